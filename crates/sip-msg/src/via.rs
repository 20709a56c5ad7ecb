//! The Via header (RFC 3261 §20.42, §18.2.1) with RFC 3581 `rport`.

use std::fmt;

use crate::error::ParseError;
use std::fmt::Write as _;

use crate::text::{
    Param, find_param, fmt_decimal, fmt_params, is_lws, params, parse_params, skip_lws, split_semicolons, token_end,
};
use crate::uri::{Host, split_host_port};

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_MAGIC: &str = "z9hG4bK";

/// One Via value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token, upper-cased (`UDP`, `TCP`, `TLS`, `WS`, or an unknown token).
    pub transport: String,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters as written.
    pub params: Vec<Param>,
}

impl Via {
    /// A Via for a request we send.
    #[must_use]
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Self {
        Self {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params: vec![Param::new("branch", Some(branch)), Param::new("rport", None::<&str>)],
        }
    }

    /// Parse one Via value. LWS is allowed around `/` (RFC 3261 §25.1 SLASH).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let parts = Parts::split(s)?;
        let params = match parts.params {
            Some(p) => parse_params(p).ok_or(BAD_PARAMETER)?,
            None => Vec::new(),
        };
        Ok(Self { transport: parts.transport.to_ascii_uppercase(), host: parts.host, port: parts.port, params })
    }

    /// A parameter by case-insensitive name.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The `branch` parameter.
    #[must_use]
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").and_then(|p| p.value.as_deref())
    }

    /// True when the branch carries the RFC 3261 magic cookie.
    #[must_use]
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_MAGIC))
    }

    /// `rport` was requested (RFC 3581 §3): `Some(None)` without a value.
    #[must_use]
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|p| p.value.as_deref().and_then(|v| v.parse().ok()))
    }

    /// Set or replace a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        if let Some(p) = self.params.iter_mut().find(|p| p.name.eq_ignore_ascii_case(name)) {
            p.value = value.map(str::to_owned);
        } else {
            self.params.push(Param::new(name, value));
        }
    }
}

const BAD_PARAMETER: ParseError = ParseError::InvalidHeader { header: "Via", reason: "bad parameter" };

/// A Via value cut into its pieces: the transport token as written, the sent-by parsed,
/// and the parameters' text after the first `;`.
struct Parts<'a> {
    transport: &'a str,
    host: Host,
    port: Option<u16>,
    params: Option<&'a str>,
}

impl<'a> Parts<'a> {
    /// `SIP / 2.0 / transport LWS sent-by [; params]`, LWS allowed around the slashes
    /// (RFC 3261 §20.42, §25.1), read in one pass (splitting on `/` and trimming each piece
    /// was a few hundred instructions per received message).
    fn split(s: &'a str) -> Result<Self, ParseError> {
        let bad = |reason| ParseError::InvalidHeader { header: "Via", reason };
        let b = s.as_bytes();
        let name_at = skip_lws(b, 0);
        let name_end = token_end(b, name_at);
        let slash = skip_lws(b, name_end);
        if b.get(slash) != Some(&b'/') {
            return Err(bad("missing protocol version"));
        }
        let version_at = skip_lws(b, slash + 1);
        let version_end = token_end(b, version_at);
        let slash = skip_lws(b, version_end);
        if b.get(slash) != Some(&b'/') {
            return Err(bad("missing transport"));
        }
        if !s[name_at..name_end].eq_ignore_ascii_case("SIP") || &s[version_at..version_end] != "2.0" {
            return Err(bad("protocol is not SIP/2.0"));
        }
        let transport_at = skip_lws(b, slash + 1);
        let transport_end = token_end(b, transport_at);
        let transport = &s[transport_at..transport_end];
        match b.get(transport_end) {
            Some(b' ' | b'\t') if !transport.is_empty() => {}
            None | Some(b' ' | b'\t') => return Err(bad("missing sent-by")),
            Some(_) => return Err(bad("transport is not a token")),
        }
        let rest = &s[skip_lws(b, transport_end)..];
        let (sent_by, params) = match memchr::memchr(b';', rest.as_bytes()) {
            Some(i) => (rest[..i].trim_end_matches(is_lws), Some(&rest[i + 1..])),
            None => (rest.trim_end_matches(is_lws), None),
        };
        let (host, port) = split_host_port(sent_by).map_err(|_| bad("bad sent-by"))?;
        Ok(Self { transport, host, port, params })
    }
}

/// The top Via of a received message: protocol, sent-by and parameters checked, the
/// branch found in place, the parameters kept as text. Building a [`Via`] with an owned
/// string per parameter for every received message was 7.5 % of the engine's
/// instructions per call; a server needs the branch, the sent-by and `rport`, and stamps
/// `received`/`rport` into the text ([`ViaField::set_param`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaField {
    text: String,
    /// The transport token as written.
    transport: (usize, usize),
    host: Host,
    port: Option<u16>,
    /// Where the parameters' text starts (after the first `;`), if there are any.
    params: Option<usize>,
    /// Where the branch's value is in `text`.
    branch: Option<(usize, usize)>,
    /// `rport`, found with the branch in the one pass over the parameters.
    rport: Option<Option<u16>>,
    /// Where the name of a valueless `rport` ends, so stamping its value is one insert.
    bare_rport_end: Option<usize>,
    /// Whether a `received` parameter is present (stamping one appends it otherwise).
    has_received: bool,
}

impl ViaField {
    /// Check a Via value as [`Via::parse`] does, keeping its text.
    pub fn parse(text: String) -> Result<Self, ParseError> {
        let parts = Parts::split(&text)?;
        let start = |part: &str| part.as_ptr() as usize - text.as_ptr() as usize;
        let transport = (start(parts.transport), start(parts.transport) + parts.transport.len());
        let params_at = parts.params.map(start);
        let mut field = Self {
            transport,
            host: parts.host,
            port: parts.port,
            params: params_at,
            branch: None,
            rport: None,
            bare_rport_end: None,
            has_received: false,
            text,
        };
        field.find_params()?;
        Ok(field)
    }

    /// Check the parameters and note the branch, `rport` and `received` (the first of
    /// each name).
    fn find_params(&mut self) -> Result<(), ParseError> {
        let (mut branch, mut rport, mut bare_rport_end, mut has_received) = (None, None, None, false);
        if let Some(at) = self.params {
            let list = &self.text[at..];
            let offset = |part: &str| part.as_ptr() as usize - self.text.as_ptr() as usize;
            for item in params(list) {
                let (name, value) = item.ok_or(BAD_PARAMETER)?;
                if branch.is_none() && name.eq_ignore_ascii_case("branch") {
                    branch = Some(value.map(|v| (offset(v), offset(v) + v.len())));
                } else if rport.is_none() && name.eq_ignore_ascii_case("rport") {
                    rport = Some(value.and_then(|v| v.parse().ok()));
                    bare_rport_end = value.is_none().then(|| offset(name) + name.len());
                } else if name.eq_ignore_ascii_case("received") {
                    has_received = true;
                }
            }
        }
        self.branch = branch.flatten();
        self.rport = rport;
        self.bare_rport_end = bare_rport_end;
        self.has_received = has_received;
        Ok(())
    }

    /// The value's text (stamped parameters included).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// sent-by host.
    #[must_use]
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// sent-by port.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The transport token as written (`UDP`, `tcp`, ...).
    #[must_use]
    pub fn transport(&self) -> &str {
        &self.text[self.transport.0..self.transport.1]
    }

    /// A parameter by case-insensitive name: `Some(None)` when it has no value.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        let list = &self.text[self.params?..];
        params(list).flatten().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The `branch` parameter.
    #[must_use]
    pub fn branch(&self) -> Option<&str> {
        self.branch.map(|(a, b)| &self.text[a..b])
    }

    /// True when the branch carries the RFC 3261 magic cookie.
    #[must_use]
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_MAGIC))
    }

    /// `rport` was requested (RFC 3581 §3): `Some(None)` without a value.
    #[must_use]
    pub fn rport(&self) -> Option<Option<u16>> {
        self.rport
    }

    /// Set or replace a parameter in the text (`received`, `rport`); `value` must be a
    /// token (an address or a port), so the text stays a valid Via. The stamps a server
    /// makes on nearly every request (RFC 3581 §4: a value for a bare `rport`, a
    /// `received` where there was none) are one insert at a place noted when the
    /// parameters were read; rescanning them for each stamp was about a thousand
    /// instructions per request.
    pub fn set_param(&mut self, name: &str, value: &str) {
        if name.eq_ignore_ascii_case("rport")
            && let Some(end) = self.bare_rport_end
        {
            self.text.insert(end, '=');
            self.text.insert_str(end + 1, value);
            self.shift_after(end, 1 + value.len());
            self.bare_rport_end = None;
            self.rport = Some(value.parse().ok());
            return;
        }
        if name.eq_ignore_ascii_case("received") && !self.has_received {
            // appended: nothing noted lies after the end
            let params_at = append_param(&mut self.text, name, value);
            self.params.get_or_insert(params_at);
            self.has_received = true;
            return;
        }
        set_param_text(&mut self.text, name, value);
        if self.params.is_none() {
            self.params = memchr::memchr(b';', self.text.as_bytes()).map(|i| i + 1);
        }
        // the text stays valid (`value` is a token), so this finds what it found before,
        // moved by the edit
        let _ = self.find_params();
    }

    /// Move what was noted at or after `at` by `n` inserted bytes.
    fn shift_after(&mut self, at: usize, n: usize) {
        if let Some((a, b)) = self.branch
            && a >= at
        {
            self.branch = Some((a + n, b + n));
        }
    }

    /// The whole value as a [`Via`].
    pub fn via(&self) -> Result<Via, ParseError> {
        Via::parse(&self.text)
    }
}

/// A Via value as written with one parameter set, edited in place: the first parameter
/// of that name gets the value, or `;name=value` is appended. Everything else stays as
/// received, so a stamped Via (`received`, `rport`, RFC 3581 §4) is not printed anew.
fn set_param_text(via: &mut String, name: &str, value: &str) {
    // sent-by holds no `;`: the parameters start at the first one
    let found = memchr::memchr(b';', via.as_bytes()).and_then(|first| {
        split_semicolons(&via[first + 1..]).find_map(|item| {
            let n = item.split_once('=').map_or(item, |(n, _)| n).trim_matches(is_lws);
            // `item` lies inside `via`
            let start = item.as_ptr() as usize - via.as_ptr() as usize;
            n.eq_ignore_ascii_case(name).then_some((start, start + item.len()))
        })
    });
    match found {
        Some((start, end)) => {
            via.replace_range(start..end, name);
            let at = start + name.len();
            via.insert(at, '=');
            via.insert_str(at + 1, value);
        }
        None => {
            append_param(via, name, value);
        }
    }
}

/// Append `;name=value` to a Via value (its trailing LWS dropped); returns where the
/// appended parameter starts.
fn append_param(via: &mut String, name: &str, value: &str) -> usize {
    via.truncate(via.trim_end_matches(is_lws).len());
    via.push(';');
    let at = via.len();
    push_param(via, name, value);
    at
}

fn push_param(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    out.push_str(value);
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SIP/2.0/")?;
        f.write_str(&self.transport)?;
        f.write_char(' ')?;
        fmt::Display::fmt(&self.host, f)?;
        if let Some(p) = self.port {
            f.write_char(':')?;
            fmt_decimal(f, u32::from(p))?;
        }
        fmt_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The split-and-trim reading the one-pass `Parts::split` replaced: (transport, sent-by,
    /// parameters), or `None` where it refused.
    fn split_by_pieces(s: &str) -> Option<(&str, &str, Option<&str>)> {
        let mut parts = s.splitn(3, '/');
        let name = parts.next().unwrap_or_default().trim_matches(is_lws);
        let version = parts.next()?.trim_matches(is_lws);
        let rest = parts.next()?.trim_start_matches(is_lws);
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return None;
        }
        let t_end = rest.find(is_lws)?;
        let transport = &rest[..t_end];
        if !crate::text::is_token(transport) {
            return None;
        }
        let rest = rest[t_end..].trim_start_matches(is_lws);
        Some(match rest.split_once(';') {
            Some((sent_by, params)) => (transport, sent_by.trim_matches(is_lws), Some(params)),
            None => (transport, rest.trim_matches(is_lws), None),
        })
    }

    proptest! {
        #[test]
        fn one_pass_split_agrees_with_pieces(
            pre in "[ \t]{0,2}", name in prop::sample::select(vec!["SIP", "sip", "SIP", "SIPS", "S P", ""]),
            sep1 in prop::sample::select(vec!["/", " / ", "\t/", "//", " ", ""]),
            version in prop::sample::select(vec!["2.0", "2.0", "2.1", "", "2 .0"]),
            sep2 in prop::sample::select(vec!["/", "/ ", " /", "//", " "]),
            transport in prop::sample::select(vec!["UDP", "tcp", "X-1", "U@P", ""]),
            gap in prop::sample::select(vec![" ", "\t", "  ", ""]),
            sent_by in prop::sample::select(vec!["192.0.2.1:5060", "pbx.example", "[2001:db8::1]:5062", "a..b", "1.2.3.4:x", ""]),
            tail in "[ ;a-z=]{0,8}",
        ) {
            let via = format!("{pre}{name}{sep1}{version}{sep2}{transport}{gap}{sent_by}{tail}");
            let old = split_by_pieces(&via).filter(|(_, sb, _)| split_host_port(sb).is_ok());
            match Parts::split(&via) {
                Ok(parts) => {
                    let (transport, sent_by, params) = old.expect("accepted by both");
                    prop_assert_eq!(parts.transport, transport);
                    prop_assert_eq!(Ok((parts.host, parts.port)), split_host_port(sent_by));
                    prop_assert_eq!(parts.params, params);
                }
                Err(_) => prop_assert!(old.is_none(), "refused {:?}", via),
            }
        }
    }

    #[test]
    fn parses_spaced_protocol_and_rport() {
        let v = Via::parse("SIP / 2.0 / UDP 192.0.2.1:5060 ;branch=z9hG4bKabc;rport").expect("via");
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bKabc"));
        assert_eq!(v.rport(), Some(None));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn rejects_empty_params_and_bad_versions() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/7.0/UDP host").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    }

    #[test]
    fn ipv6_sent_by() {
        let v = Via::parse("SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bK1").expect("v6");
        assert_eq!(v.to_string(), "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bK1");
    }

    #[test]
    fn setting_a_parameter_in_the_text_agrees_with_parsing_setting_and_printing() {
        for (via, name, value) in [
            ("SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1", "rport", "5062"),
            ("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport", "received", "192.0.2.7"),
            ("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;received=1.2.3.4", "received", "192.0.2.7"),
            ("SIP/2.0/UDP host.example", "received", "192.0.2.7"),
            ("SIP / 2.0 / UDP 10.0.0.5 ; RPORT ; branch=z9hG4bK1", "rport", "9"),
        ] {
            let mut text = via.to_owned();
            set_param_text(&mut text, name, value);
            let mut parsed = Via::parse(via).expect("via");
            parsed.set_param(name, Some(value));
            let reparsed = Via::parse(&text).expect("stamped via parses");
            assert_eq!(reparsed.params.len(), parsed.params.len(), "{text}");
            for p in &parsed.params {
                let q = reparsed.param(&p.name).expect("param kept");
                assert_eq!(q.value, p.value, "{text}");
            }
            assert_eq!((reparsed.host, reparsed.port), (parsed.host, parsed.port));
        }
    }

    #[test]
    fn the_field_agrees_with_the_full_parse_and_stamps_its_text() {
        for v in [
            "SIP / 2.0 / UDP 192.0.2.1:5060 ;branch=z9hG4bKabc;rport",
            "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bK1",
            "SIP/2.0/udp host.example;received=10.0.0.1;BRANCH=1234",
            "SIP/2.0/UDP 10.0.0.5",
            // stamps before the branch move it: longer, and shorter
            "SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1",
            "SIP/2.0/UDP 10.0.0.5:5060;received=255.255.255.255;rport;branch=z9hG4bK1",
        ] {
            let full = Via::parse(v).expect("via");
            let mut field = ViaField::parse(v.to_owned()).expect("field");
            assert_eq!((field.branch(), field.rport()), (full.branch(), full.rport()), "{v}");
            assert_eq!((field.host(), field.port()), (&full.host, full.port), "{v}");
            assert_eq!(field.transport().to_ascii_uppercase(), full.transport);
            assert_eq!(field.has_rfc3261_branch(), full.has_rfc3261_branch());
            field.set_param("received", "192.0.2.7");
            field.set_param("rport", "5062");
            let stamped = field.via().expect("stamped text parses");
            assert_eq!(stamped.param("received").and_then(|p| p.value.as_deref()), Some("192.0.2.7"), "{v}");
            assert_eq!(stamped.rport(), Some(Some(5062)));
            assert_eq!(field.rport(), Some(Some(5062)));
            assert_eq!(stamped.branch(), full.branch());
            // the inserts at noted places give the text the general edit gives (which
            // writes the name as asked), and note what a fresh reading of it notes
            let mut text = v.to_owned();
            set_param_text(&mut text, "received", "192.0.2.7");
            set_param_text(&mut text, "rport", "5062");
            assert!(field.as_str().eq_ignore_ascii_case(&text), "{v}: {} against {text}", field.as_str());
            assert_eq!(field, ViaField::parse(field.as_str().to_owned()).expect("reparsed"), "{v}");
        }
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/7.0/UDP host",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP h;a=",
            "SIP/2.0/UDP h:99999",
        ] {
            assert!(ViaField::parse(bad.to_owned()).is_err(), "{bad}");
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
    }
}
