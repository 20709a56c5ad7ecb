//! `name-addr` / `addr-spec` with header parameters (RFC 3261 §20.10, §20.20, §20.39).
//!
//! Parameters after `<uri>` belong to the header (tag, expires, q); parameters inside the
//! angle brackets belong to the URI. In the bare `addr-spec` form every `;param` after the
//! URI is a header parameter, which is why a URI holding `;`, `,` or `?` must be enclosed
//! in angle brackets (RFC 3261 §20, RFC 4475 §3.1.2.13).

use std::fmt;

use crate::error::ParseError;
use std::fmt::Write as _;

use crate::text::{Param, find_param, fmt_params, is_lws, is_token, parse_params, parse_quoted, quote};
use crate::uri::Uri;

/// A display name, URI and header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted.
    pub display: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, ...).
    pub params: Vec<Param>,
}

impl NameAddr {
    /// An address without display name or parameters.
    #[must_use]
    pub fn new(uri: Uri) -> Self {
        Self { display: None, uri, params: Vec::new() }
    }

    /// Parse one `name-addr` or `addr-spec` followed by parameters.
    pub fn parse(s: &str, header: &'static str) -> Result<Self, ParseError> {
        let bad = |reason| ParseError::InvalidHeader { header, reason };
        let s = s.trim_matches(is_lws);
        let (display, after_display) = if s.starts_with('"') {
            let (d, rest) = parse_quoted(s).ok_or_else(|| bad("unterminated quoted display name"))?;
            let rest = rest.trim_start_matches(is_lws);
            if !rest.starts_with('<') {
                return Err(bad("display name not followed by <uri>"));
            }
            (Some(d.into_owned()), rest)
        } else if let Some(lt) = s.find('<') {
            let d = s[..lt].trim_matches(is_lws);
            if d.is_empty() {
                (None, &s[lt..])
            } else {
                // display-name = *(token LWS) (RFC 3261 §25.1)
                if !d.split(is_lws).filter(|w| !w.is_empty()).all(is_token) {
                    return Err(bad("display name has characters that need quoting"));
                }
                (Some(d.to_owned()), &s[lt..])
            }
        } else {
            (None, s)
        };

        if let Some(inner) = after_display.strip_prefix('<') {
            let end = inner.find('>').ok_or_else(|| bad("missing >"))?;
            let uri: Uri = inner[..end].parse()?;
            let rest = inner[end + 1..].trim_start_matches(is_lws);
            let params = parse_header_params(rest).ok_or_else(|| bad("bad parameter"))?;
            Ok(Self { display, uri, params })
        } else {
            let (uri_s, rest) = match s.find(';') {
                Some(i) => (s[..i].trim_end_matches(is_lws), &s[i..]),
                None => (s, ""),
            };
            if uri_s.contains('?') || uri_s.contains(',') || uri_s.bytes().any(|c| c == b' ' || c == b'\t') {
                return Err(bad("addr-spec needs <> around a URI with ?, comma or spaces"));
            }
            let uri: Uri = uri_s.parse()?;
            let params = parse_header_params(rest).ok_or_else(|| bad("bad parameter"))?;
            Ok(Self { display: None, uri, params })
        }
    }

    /// A header parameter by case-insensitive name.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The `tag` parameter (From/To, RFC 3261 §19.3).
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").and_then(|p| p.value.as_deref())
    }

    /// Set or replace a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        self.params.retain(|p| !p.name.eq_ignore_ascii_case(name));
        self.params.push(Param::new(name, value));
    }
}

/// True when a From/To/Contact value carries the header parameter `name`, without
/// parsing the address: header parameters follow the last `>` (name-addr form) or the
/// first `;` (addr-spec form). For values that [`NameAddr::parse`] accepts it agrees with
/// `param(name).is_some()`; the To of every response we build comes from a request whose
/// To was parsed already.
#[must_use]
pub fn has_header_param(value: &str, name: &str) -> bool {
    let params = match value.rfind('>') {
        Some(gt) => &value[gt + 1..],
        None => value.split_once(';').map_or("", |(_, p)| p),
    };
    crate::text::split_semicolons(params).any(|item| {
        let n = item.split_once('=').map_or(item, |(n, _)| n);
        n.trim_matches(is_lws).eq_ignore_ascii_case(name)
    })
}

fn parse_header_params(rest: &str) -> Option<Vec<Param>> {
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let rest = rest.strip_prefix(';')?;
    parse_params(rest)
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{} ", quote(d))?;
        }
        f.write_char('<')?;
        fmt::Display::fmt(&self.uri, f)?;
        f.write_char('>')?;
        fmt_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params_and_uri_params_are_kept_apart() {
        let na = NameAddr::parse("<sip:alice@host;transport=tcp>;expires=60;q=0.5", "Contact").expect("contact");
        let uri = na.uri.as_sip().expect("sip");
        assert!(uri.param("transport").is_some());
        assert!(uri.param("expires").is_none());
        assert_eq!(na.param("expires").and_then(|p| p.value.as_deref()), Some("60"));
        // bare addr-spec: ;expires belongs to the header
        let bare = NameAddr::parse("sip:alice@host;expires=60", "Contact").expect("bare");
        assert!(bare.uri.as_sip().expect("sip").params.is_empty());
        assert!(bare.param("expires").is_some());
    }

    #[test]
    fn display_names_quoted_token_and_without_space() {
        let q = NameAddr::parse(r#""J. \"Rosenberg\"" <sip:j@x>;tag=1"#, "From").expect("q");
        assert_eq!(q.display.as_deref(), Some(r#"J. "Rosenberg""#));
        assert_eq!(q.tag(), Some("1"));
        let t = NameAddr::parse("Bob Smith<sip:bob@x>", "To").expect("token display");
        assert_eq!(t.display.as_deref(), Some("Bob Smith"));
        assert!(NameAddr::parse(r#""unterminated <sip:a@b>"#, "From").is_err());
        assert!(NameAddr::parse("Bob @ Home <sip:a@b>", "From").is_err());
    }

    #[test]
    fn addr_spec_with_question_mark_must_be_enclosed() {
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E", "Contact").is_err());
        assert!(NameAddr::parse("<sip:user@example.com?Route=%3Csip:x%3E>", "Contact").is_ok());
        assert!(NameAddr::parse("sip:user@example.com; tag=x y", "From").is_err());
    }
}
