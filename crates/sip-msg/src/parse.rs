//! Parsing of whole messages from datagrams and byte streams (RFC 3261 §7, §18.3).
//!
//! Strict where ambiguity is dangerous: the start line must use single spaces, header
//! lines must have a token name and a colon, Content-Length values must agree and be
//! non-negative. Liberal where RFC 3261 is: leading CRLFs are skipped, compact names and
//! folded lines are accepted, trailing octets after a datagram's body are ignored.

use bytes::Bytes;
use memchr::memmem;

use crate::error::ParseError;
use crate::headers::{HeaderName, Headers, Span};
use crate::message::{Message, Request, Response};
use crate::text::{is_lws, is_token, skip_lws, split_commas, token_end};

/// Largest message we accept (the UDP maximum; RFC 3261 §18.1.1 wants TCP above MTU).
pub const MAX_MESSAGE: usize = 65_535;
/// Most header lines we accept.
pub const MAX_HEADERS: usize = 128;
/// Spare room in a parsed section's text: a top Via stamped with `received` and `rport`
/// is written anew at its end.
const VIA_STAMP_ROOM: usize = 128;

/// What a stream buffer holds at its front.
#[derive(Debug)]
pub enum StreamFrame {
    /// Not a whole message yet; read more.
    Incomplete,
    /// A CRLF keep-alive (RFC 5626 §3.5.1) of `consumed` bytes.
    KeepAlive {
        /// Bytes to drop.
        consumed: usize,
    },
    /// One message of `consumed` bytes.
    Message {
        /// The message (boxed: it is large and moves once, to the engine).
        message: Box<Message>,
        /// Bytes to drop.
        consumed: usize,
    },
}

/// Parse one datagram. `Ok(None)` for a keep-alive (only CRLFs).
pub fn parse_datagram(buf: &[u8]) -> Result<Option<Message>, ParseError> {
    if buf.len() > MAX_MESSAGE {
        return Err(ParseError::TooLarge { max: MAX_MESSAGE, found: buf.len() });
    }
    let start = skip_crlf(buf);
    if start == buf.len() {
        return Ok(None);
    }
    let buf = &buf[start..];
    let head_end = memmem::find(buf, b"\r\n\r\n").ok_or(ParseError::NoHeaderEnd)?;
    let (start_line, headers) = parse_head(&buf[..head_end])?;
    let rest = &buf[head_end + 4..];
    let body_len = match content_length(&headers)? {
        Some(n) if n > rest.len() => {
            return Err(ParseError::BodyTruncated { declared: n, available: rest.len() });
        }
        Some(n) => n,
        // RFC 3261 §18.3: over UDP a missing Content-Length means "to the end".
        None => rest.len(),
    };
    let body = Bytes::copy_from_slice(&rest[..body_len]);
    build(start_line, headers, body).map(Some)
}

/// Parse the front of a stream buffer (TCP, TLS). Content-Length frames the body; a
/// missing Content-Length means an empty body.
pub fn parse_stream(buf: &[u8]) -> Result<StreamFrame, ParseError> {
    let start = skip_crlf(buf);
    if start == buf.len() {
        // RFC 5626 keep-alive is CRLFCRLF; a lone CRLF waits for more.
        return Ok(if start >= 4 { StreamFrame::KeepAlive { consumed: start } } else { StreamFrame::Incomplete });
    }
    if start >= 4 {
        return Ok(StreamFrame::KeepAlive { consumed: start });
    }
    let body_buf = &buf[start..];
    let Some(head_end) = memmem::find(body_buf, b"\r\n\r\n") else {
        if body_buf.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge { max: MAX_MESSAGE, found: body_buf.len() });
        }
        return Ok(StreamFrame::Incomplete);
    };
    let (start_line, headers) = parse_head(&body_buf[..head_end])?;
    let body_len = content_length(&headers)?.unwrap_or(0);
    let total = head_end + 4 + body_len;
    if total > MAX_MESSAGE {
        return Err(ParseError::TooLarge { max: MAX_MESSAGE, found: total });
    }
    if body_buf.len() < total {
        return Ok(StreamFrame::Incomplete);
    }
    let body = Bytes::copy_from_slice(&body_buf[head_end + 4..total]);
    let message = Box::new(build(start_line, headers, body)?);
    Ok(StreamFrame::Message { message, consumed: start + total })
}

/// Best-effort header lines of a message whose start line or framing failed, so that a
/// server can still answer a broken request with 400 or 505. `Some(true, ..)` when the
/// first line does not look like a status line.
#[must_use]
pub fn salvage_headers(buf: &[u8]) -> Option<(bool, Headers)> {
    let buf = &buf[skip_crlf(buf)..];
    let end = memmem::find(buf, b"\r\n\r\n").unwrap_or(buf.len());
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let is_request = !first.starts_with("SIP/");
    let mut headers = Headers::new();
    for line in lines {
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim_end_matches(is_lws);
            if is_token(n) {
                headers.push(HeaderName::parse(n), v.trim_matches(is_lws));
            }
        }
    }
    Some((is_request, headers))
}

enum StartLine<'a> {
    Request { method: &'a str, uri: &'a str },
    Response { status: u16, reason: &'a str },
}

fn skip_crlf(buf: &[u8]) -> usize {
    buf.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

fn parse_head(head: &[u8]) -> Result<(StartLine<'_>, Headers), ParseError> {
    let head = std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = Lines { rest: head };
    let first = lines.next().transpose()?.unwrap_or_default();
    let start = parse_start_line(first)?;
    // The section is copied once; its lines are spans into the copy, at the offsets they
    // have in `section`. Room for the stamps a request's top Via gets (§18.2.1).
    let section = lines.rest;
    let span = |part: &str| {
        let start = part.as_ptr() as usize - section.as_ptr() as usize;
        Span::new(start, start + part.len())
    };
    let mut headers = Headers::parsed_from(section, VIA_STAMP_ROOM);
    for line in (Lines { rest: section }) {
        let line = line?;
        if line.starts_with([' ', '\t']) {
            // folded continuation of the previous header (RFC 3261 §7.3.1): the value runs
            // on through the CRLF, as received
            if !headers.extend_last(span(line).end()) {
                return Err(ParseError::HeaderLine);
            }
            continue;
        }
        // One pass over the name: token characters, optional LWS, then the colon.
        let bytes = line.as_bytes();
        let name_end = token_end(bytes, 0);
        let colon = skip_lws(bytes, name_end);
        if name_end == 0 || bytes.get(colon) != Some(&b':') {
            return Err(ParseError::HeaderLine);
        }
        let name = &line[..name_end];
        if headers.len() == MAX_HEADERS {
            return Err(ParseError::TooManyHeaders { max: MAX_HEADERS, found: head.split("\r\n").count() - 1 });
        }
        let parsed = HeaderName::parse(name);
        let raw_name = (parsed.as_str() != name).then(|| span(name));
        let value = line[colon + 1..].trim_start_matches(is_lws);
        headers.push_parsed(parsed, raw_name, span(value));
    }
    Ok((start, headers))
}

/// The CRLF-separated lines of a header section, found with one `memchr` pass. A lone CR
/// or LF inside a line is an error (RFC 3261 §7.3.1 allows only CRLF as a line end).
struct Lines<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<&'a str, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let bytes = self.rest.as_bytes();
        // The first CR or LF must be a CRLF: one search finds the line end and rules out a
        // lone CR or LF inside the line.
        let (line, rest) = match memchr::memchr2(b'\r', b'\n', bytes) {
            Some(cr) if bytes[cr] == b'\r' && bytes.get(cr + 1) == Some(&b'\n') => {
                (&self.rest[..cr], &self.rest[cr + 2..])
            }
            Some(_) => return Some(Err(ParseError::HeaderLine)),
            None => (self.rest, ""),
        };
        // The head ends before the blank line, so it never ends in CRLF: no empty last line.
        self.rest = rest;
        Some(Ok(line))
    }
}

fn parse_start_line(line: &str) -> Result<StartLine<'_>, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/") {
        let (version, rest) = rest.split_once(' ').ok_or(ParseError::StartLine("status line"))?;
        if version != "2.0" {
            return Err(ParseError::UnsupportedVersion(format!("SIP/{version}")));
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::StatusCode(code.to_owned()));
        }
        let status: u16 = code.parse().map_err(|_| ParseError::StatusCode(code.to_owned()))?;
        if !(100..=699).contains(&status) {
            return Err(ParseError::StatusCode(code.to_owned()));
        }
        return Ok(StartLine::Response { status, reason });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine("request line must be METHOD SP URI SP SIP/2.0"));
    };
    if method.is_empty() || uri.is_empty() {
        return Err(ParseError::StartLine("empty method or Request-URI"));
    }
    if !is_token(method) {
        return Err(ParseError::StartLine("method is not a token"));
    }
    let is_sip_version = version.len() > 4
        && version[..4].eq_ignore_ascii_case("SIP/")
        && version[4..].split_once('.').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        });
    if !is_sip_version {
        return Err(ParseError::StartLine("bad SIP version"));
    }
    if &version[4..] != "2.0" {
        return Err(ParseError::UnsupportedVersion(version.to_owned()));
    }
    if uri.starts_with('<') {
        return Err(ParseError::StartLine("Request-URI in angle brackets"));
    }
    Ok(StartLine::Request { method, uri })
}

fn content_length(h: &Headers) -> Result<Option<usize>, ParseError> {
    let mut found: Option<usize> = None;
    for raw in h.values_of(&HeaderName::ContentLength) {
        let v = raw.unfolded();
        for item in split_commas(&v) {
            if item.starts_with('-') {
                return Err(ParseError::ContentLength("negative"));
            }
            if item.is_empty() || item.len() > 9 || !item.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ParseError::ContentLength("not a number"));
            }
            let n: usize = item.parse().map_err(|_| ParseError::ContentLength("not a number"))?;
            match found {
                Some(prev) if prev != n => {
                    return Err(ParseError::ContentLength("conflicting values"));
                }
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

fn build(start: StartLine<'_>, headers: Headers, body: Bytes) -> Result<Message, ParseError> {
    Ok(match start {
        StartLine::Request { method, uri } => {
            Message::Request(Request { method: method.parse()?, uri: uri.parse()?, headers, body })
        }
        StartLine::Response { status, reason } => {
            Message::Response(Response { status, reason: reason.to_owned().into(), headers, body })
        }
    })
}
