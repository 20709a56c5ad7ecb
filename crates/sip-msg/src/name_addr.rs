//! `name-addr` / `addr-spec` with header parameters (RFC 3261 §20.10, §20.20, §20.39).
//!
//! Parameters after `<uri>` belong to the header (tag, expires, q); parameters inside the
//! angle brackets belong to the URI. In the bare `addr-spec` form every `;param` after the
//! URI is a header parameter, which is why a URI holding `;`, `,` or `?` must be enclosed
//! in angle brackets (RFC 3261 §20, RFC 4475 §3.1.2.13).

use std::fmt;

use crate::error::ParseError;
use std::fmt::Write as _;

use std::borrow::Cow;

use crate::text::{Param, find_param, fmt_params, is_lws, is_token, params, parse_params, parse_quoted, quote};
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
        let parts = Parts::split(s, header)?;
        let uri: Uri = parts.uri.parse()?;
        let params =
            parse_header_params(parts.params).ok_or(ParseError::InvalidHeader { header, reason: "bad parameter" })?;
        Ok(Self { display: parts.display.map(Cow::into_owned), uri, params })
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
    let params = match memchr::memrchr(b'>', value.as_bytes()) {
        Some(gt) => value[gt + 1..].trim_start_matches(is_lws).strip_prefix(';').unwrap_or(""),
        None => memchr::memchr(b';', value.as_bytes()).map_or("", |i| &value[i + 1..]),
    };
    // the one-pass scanner, up to a malformed parameter (a From/To/Contact that reached
    // here passed `AddrField::parse`, which checks the whole list)
    crate::text::params(params).map_while(|p| p).any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// A `name-addr` or `addr-spec` cut into its pieces, nothing parsed further: the display
/// name (unquoted), the URI's text and the header parameters' text (from the first `;`).
struct Parts<'a> {
    display: Option<Cow<'a, str>>,
    uri: &'a str,
    params: &'a str,
}

impl<'a> Parts<'a> {
    fn split(s: &'a str, header: &'static str) -> Result<Self, ParseError> {
        let bad = |reason| ParseError::InvalidHeader { header, reason };
        let s = s.trim_matches(is_lws);
        let (display, after_display) = if s.starts_with('"') {
            let (d, rest) = parse_quoted(s).ok_or_else(|| bad("unterminated quoted display name"))?;
            let rest = rest.trim_start_matches(is_lws);
            if !rest.starts_with('<') {
                return Err(bad("display name not followed by <uri>"));
            }
            (Some(d), rest)
        } else if let Some(lt) = memchr::memchr(b'<', s.as_bytes()) {
            let d = s[..lt].trim_matches(is_lws);
            if d.is_empty() {
                (None, &s[lt..])
            } else {
                // display-name = *(token LWS) (RFC 3261 §25.1)
                if !d.split(is_lws).filter(|w| !w.is_empty()).all(is_token) {
                    return Err(bad("display name has characters that need quoting"));
                }
                (Some(Cow::Borrowed(d)), &s[lt..])
            }
        } else {
            (None, s)
        };

        if let Some(inner) = after_display.strip_prefix('<') {
            let end = memchr::memchr(b'>', inner.as_bytes()).ok_or_else(|| bad("missing >"))?;
            let params = inner[end + 1..].trim_start_matches(is_lws);
            Ok(Self { display, uri: &inner[..end], params })
        } else {
            let (uri, params) = match memchr::memchr(b';', s.as_bytes()) {
                Some(i) => (s[..i].trim_end_matches(is_lws), &s[i..]),
                None => (s, ""),
            };
            if uri.bytes().any(|c| matches!(c, b'?' | b',' | b' ' | b'\t')) {
                return Err(bad("addr-spec needs <> around a URI with ?, comma or spaces"));
            }
            Ok(Self { display: None, uri, params })
        }
    }
}

/// A From or To value as received: its structure checked and its tag found when the
/// message arrives, the address parsed only when asked ([`AddrField::addr`]). Most
/// messages need no more than the tag: parsing every From and To into a [`NameAddr`]
/// was a tenth of svar's SIP work per call (BENCHMARKS.md, Session 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrField {
    value: String,
    /// Where the tag's value is in `value`.
    tag: Option<(usize, usize)>,
    header: &'static str,
}

impl AddrField {
    /// Check a value's structure (display name, `<>`, header parameters) and find its tag.
    pub fn parse(value: String, header: &'static str) -> Result<Self, ParseError> {
        let parts = Parts::split(&value, header)?;
        if parts.uri.is_empty() {
            return Err(ParseError::InvalidHeader { header, reason: "empty URI" });
        }
        // the first `tag` parameter counts, as in `NameAddr::tag`; one without a value
        // is no tag
        let mut tag = None;
        let mut seen_tag = false;
        if !parts.params.is_empty() {
            let bad = ParseError::InvalidHeader { header, reason: "bad parameter" };
            let list = parts.params.strip_prefix(';').ok_or_else(|| bad.clone())?;
            for p in params(list) {
                let (name, v) = p.ok_or_else(|| bad.clone())?;
                if !seen_tag && name.eq_ignore_ascii_case("tag") {
                    seen_tag = true;
                    // `v` lies inside `value`: the parts are slices of it
                    tag = v.map(|v| {
                        let start = v.as_ptr() as usize - value.as_ptr() as usize;
                        (start, start + v.len())
                    });
                }
            }
        }
        Ok(Self { value, tag, header })
    }

    /// The value as received (unfolded, trimmed).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.tag.map(|(a, b)| &self.value[a..b])
    }

    /// The whole address, parsed.
    pub fn addr(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(&self.value, self.header)
    }

    /// The value with `tag` as its tag (replacing any other), as a dialog's local party.
    #[must_use]
    pub fn with_tag(&self, tag: &str) -> String {
        match self.tag {
            Some((a, b)) => format!("{}{tag}{}", &self.value[..a], &self.value[b..]),
            None => {
                let mut out = String::with_capacity(self.value.len() + tag.len() + 5);
                out.push_str(&self.value);
                out.push_str(";tag=");
                out.push_str(tag);
                out
            }
        }
    }
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

    #[test]
    fn a_field_finds_its_tag_and_parses_its_address_on_demand() {
        let f = AddrField::parse(r#""Anne" <sip:anne@kommune.example>;tag=9fx;x=1"#.to_owned(), "From").expect("from");
        assert_eq!(f.tag(), Some("9fx"));
        assert_eq!(f.addr().expect("addr").display.as_deref(), Some("Anne"));
        let bare = AddrField::parse("sip:bob@x ; TAG = 1918".to_owned(), "To").expect("bare");
        assert_eq!(bare.tag(), Some("1918"));
        let none = AddrField::parse("<sip:bob@x>".to_owned(), "To").expect("no tag");
        assert_eq!(none.tag(), None);
    }

    #[test]
    fn a_dialogs_local_party_gets_our_tag_in_place_of_any_other() {
        let none = AddrField::parse("<sip:bob@x>".to_owned(), "To").expect("to");
        assert_eq!(none.with_tag("ab"), "<sip:bob@x>;tag=ab");
        let tagged = AddrField::parse("<sip:bob@x>;tag=old;q=1".to_owned(), "To").expect("to");
        assert_eq!(tagged.with_tag("new"), "<sip:bob@x>;tag=new;q=1");
        let back = AddrField::parse(tagged.with_tag("new"), "To").expect("reparse");
        assert_eq!(back.tag(), Some("new"));
    }

    #[test]
    fn a_field_rejects_what_the_address_parser_rejects_in_its_structure() {
        for bad in
            [r#""unterminated <sip:a@b>"#, "Bob @ Home <sip:a@b>", "<sip:a@b", "<sip:a@b>;;", "<sip:a@b> x", "<>"]
        {
            assert!(AddrField::parse(bad.to_owned(), "From").is_err(), "{bad}");
            assert!(NameAddr::parse(bad, "From").is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Where the full parser accepts a value, the field finds the same tag.
        #[test]
        fn the_field_and_the_full_parser_agree_on_the_tag(
            display in proptest::option::of("[A-Za-z]{1,8}"),
            user in "[a-z0-9]{1,8}",
            angle in proptest::bool::ANY,
            params in proptest::collection::vec(("(tag|TAG|q|x)", proptest::option::of("[a-z0-9.]{1,6}")), 0..4),
            space in "[ \t]{0,2}",
        ) {
            let mut v = String::new();
            if let Some(d) = &display {
                v.push_str(d);
                v.push(' ');
            }
            let uri = format!("sip:{user}@example.com");
            if angle || display.is_some() { v.push('<'); v.push_str(&uri); v.push('>'); } else { v.push_str(&uri); }
            for (name, value) in &params {
                v.push_str(&space);
                v.push(';');
                v.push_str(name);
                if let Some(val) = value { v.push('='); v.push_str(val); }
            }
            let full = NameAddr::parse(&v, "From");
            let field = AddrField::parse(v.clone(), "From");
            proptest::prop_assert_eq!(full.is_ok(), field.is_ok(), "{}", v);
            if let (Ok(full), Ok(field)) = (full, field) {
                proptest::prop_assert_eq!(full.tag(), field.tag());
            }
        }
    }
}
