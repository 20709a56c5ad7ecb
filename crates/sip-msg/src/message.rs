//! Requests, responses and their printing. Parsing lives in [`crate::parse`].

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

use crate::error::ParseError;
use crate::headers::{CSeq, HeaderName, Headers, check_call_id, top_via_text};
use crate::method::Method;
use crate::name_addr::AddrField;
use crate::uri::Uri;
use crate::via::ViaField;

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method from the Request-Line.
    pub method: Method,
    /// Request-URI.
    pub uri: Uri,
    /// Header section.
    pub headers: Headers,
    /// Body (exactly Content-Length octets).
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=699.
    pub status: u16,
    /// Reason phrase as received (may be empty); ours are static text until one is
    /// written out (a copy per response sent was one allocation of the few left).
    pub reason: Cow<'static, str>,
    /// Header section.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

/// Either kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// The headers every request and response must carry (RFC 3261 §8.1.1), parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    /// Call-ID.
    pub call_id: String,
    /// CSeq.
    pub cseq: CSeq,
    /// From (with tag in any RFC 3261 request); [`AddrField::addr`] parses the address.
    pub from: AddrField,
    /// To.
    pub to: AddrField,
    /// Top Via; [`ViaField::via`] parses it whole.
    pub via: ViaField,
}

impl Core {
    fn from_headers(h: &Headers) -> Result<Self, ParseError> {
        // the checks in the order of the single-header accessors, so the same error wins
        let m = h.mandatory();
        Ok(Self {
            via: ViaField::parse(top_via_text(m.via)?)?,
            call_id: check_call_id(m.call_id.value("Call-ID")?.into_owned())?,
            cseq: CSeq::parse(&m.cseq.value("CSeq")?)?,
            from: AddrField::parse(m.from.value("From")?.into_owned(), "From")?,
            to: AddrField::parse(m.to.value("To")?.into_owned(), "To")?,
        })
    }
}

impl Request {
    /// A request with no headers and an empty body.
    #[must_use]
    pub fn new(method: Method, uri: Uri) -> Self {
        // room for a request's usual lines, so building one does not regrow the list
        Self { method, uri, headers: Headers::with_capacity(12), body: Bytes::new() }
    }

    /// Parse and check the mandatory headers; the CSeq method must match the
    /// Request-Line (RFC 4475 §3.1.2.17).
    pub fn core(&self) -> Result<Core, ParseError> {
        let core = Core::from_headers(&self.headers)?;
        if core.cseq.method != self.method {
            return Err(ParseError::MethodMismatch {
                start_line: self.method.to_string(),
                cseq: core.cseq.method.to_string(),
            });
        }
        Ok(core)
    }

    /// Print the request. Content-Length is printed as present in the headers.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        // the URI's printed length is not known before printing it; 128 bytes cover most
        let size = self.method.as_str().len() + 128 + self.headers.printed_len() + 2 + self.body.len();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        // printed straight into the buffer (a `to_string` was a growing string per request)
        let _ = self.uri.write_into(&mut BytesWriter(&mut out));
        out.extend_from_slice(b" SIP/2.0\r\n");
        self.headers.write_to(&mut out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Set the body and a matching Content-Length (and Content-Type when given).
    pub fn set_body(&mut self, content_type: Option<&str>, body: Bytes) {
        set_body(&mut self.headers, &mut self.body, content_type, body);
    }
}

impl Response {
    /// A response to `req` copying Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2).
    #[must_use]
    pub fn to_request(req: &Request, status: u16) -> Self {
        Self::from_headers(&req.headers, status)
    }

    /// A response built from a request's header section (also used for requests whose
    /// start line could not be parsed, to answer 400/505).
    #[must_use]
    pub fn from_headers(req: &Headers, status: u16) -> Self {
        // room for the copied lines, Content-Length and the few a server adds
        let mut headers = Headers::with_capacity(10);
        headers.copy_lines(req, |name| {
            matches!(name, HeaderName::Via | HeaderName::From | HeaderName::To | HeaderName::CallId | HeaderName::CSeq)
        });
        // RFC 3261 §8.2.6.1: Timestamp is copied into 100 Trying.
        if status == 100
            && let Some(ts) = req.get(&HeaderName::Timestamp)
        {
            headers.push(HeaderName::Timestamp, ts);
        }
        headers.push(HeaderName::ContentLength, "0");
        Self { status, reason: Cow::Borrowed(default_reason(status)), headers, body: Bytes::new() }
    }

    /// Parse and check the mandatory headers.
    pub fn core(&self) -> Result<Core, ParseError> {
        Core::from_headers(&self.headers)
    }

    /// 1xx.
    #[must_use]
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// Print the response.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        // status line (at most 5 digits), headers, blank line, body: one allocation
        let size = 16 + self.reason.len() + self.headers.printed_len() + 2 + self.body.len();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(b"SIP/2.0 ");
        let _ = crate::text::fmt_decimal(&mut BytesWriter(&mut out), u32::from(self.status));
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.headers.write_to(&mut out);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Set the body and a matching Content-Length.
    pub fn set_body(&mut self, content_type: Option<&str>, body: Bytes) {
        set_body(&mut self.headers, &mut self.body, content_type, body);
    }

    /// Add a tag to the To header if it has none (RFC 3261 §8.2.6.2).
    pub fn ensure_to_tag(&mut self, tag: &str) -> Result<(), ParseError> {
        self.ensure_to_tag_with(|| tag.to_owned()).map(|_| ())
    }

    /// Add a tag made by `tag` (called only when needed) to the To header if it has
    /// none; true when one was added.
    pub fn ensure_to_tag_with(&mut self, tag: impl FnOnce() -> String) -> Result<bool, ParseError> {
        let value = self.headers.get(&HeaderName::To).ok_or(ParseError::MissingHeader("To"))?;
        if crate::has_header_param(value, "tag") {
            return Ok(false);
        }
        let tag = tag();
        // Header parameters come last in both forms (`<uri>;p` and `uri;p`), so the tag
        // is appended to the value as received instead of printing the address anew.
        let mut tagged = String::with_capacity(value.len() + tag.len() + 5);
        tagged.push_str(value.trim_end_matches(crate::text::is_lws));
        tagged.push_str(";tag=");
        tagged.push_str(&tag);
        self.headers.set(HeaderName::To, tagged);
        Ok(true)
    }
}

fn set_body(headers: &mut Headers, slot: &mut Bytes, content_type: Option<&str>, body: Bytes) {
    headers.set(HeaderName::ContentLength, body.len().to_string());
    match content_type {
        Some(ct) => headers.set(HeaderName::ContentType, ct),
        None if body.is_empty() => headers.remove(&HeaderName::ContentType),
        None => {}
    }
    *slot = body;
}

impl Message {
    /// Print either kind.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Request(r) => r.to_bytes(),
            Self::Response(r) => r.to_bytes(),
        }
    }

    /// The header section.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        match self {
            Self::Request(r) => &r.headers,
            Self::Response(r) => &r.headers,
        }
    }
}

/// The reason phrase we send for a status code (RFC 3261 §21 and extensions).
#[must_use]
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Progress",
            2 => "OK",
            3 => "Redirect",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// `fmt::Write` into a byte buffer, for printing a URI straight into a message.
struct BytesWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for BytesWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
