//! Header fields kept as raw text with typed views on demand. A header we do not know is
//! stored and printed byte for byte; a header we know is parsed only when asked.

use std::borrow::Cow;
use std::fmt;

use crate::error::ParseError;
use crate::method::Method;
use crate::name_addr::{AddrField, NameAddr};
use crate::text::{is_lws, split_commas, unfold};
use crate::via::{Via, ViaField};

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Known names are matched case-insensitively and in compact
        /// form (RFC 3261 §7.3.3); others are kept as written.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $(
                #[doc = $canon]
                $variant,
            )*
            /// Any other header, as written.
            Other(Box<str>),
        }

        impl HeaderName {
            /// Canonical spelling.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $canon, )*
                    Self::Other(s) => s,
                }
            }

            /// Recognise a name, long or compact, in any case.
            #[must_use]
            pub fn parse(name: &str) -> Self {
                $(
                    if name.eq_ignore_ascii_case($canon) $( || name.eq_ignore_ascii_case($compact) )? {
                        return Self::$variant;
                    }
                )*
                Self::Other(name.into())
            }
        }
    };
}

header_names! {
    Via => "Via", "v";
    From => "From", "f";
    To => "To", "t";
    CallId => "Call-ID", "i";
    CSeq => "CSeq";
    Contact => "Contact", "m";
    ContentLength => "Content-Length", "l";
    ContentType => "Content-Type", "c";
    ContentEncoding => "Content-Encoding", "e";
    MaxForwards => "Max-Forwards";
    Route => "Route";
    RecordRoute => "Record-Route";
    Expires => "Expires";
    MinExpires => "Min-Expires";
    Authorization => "Authorization";
    ProxyAuthorization => "Proxy-Authorization";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthenticate => "Proxy-Authenticate";
    AuthenticationInfo => "Authentication-Info";
    Allow => "Allow";
    Supported => "Supported", "k";
    Require => "Require";
    ProxyRequire => "Proxy-Require";
    Unsupported => "Unsupported";
    Accept => "Accept";
    Subject => "Subject", "s";
    UserAgent => "User-Agent";
    Server => "Server";
    RetryAfter => "Retry-After";
    Event => "Event", "o";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    SessionExpires => "Session-Expires", "x";
    Date => "Date";
    Timestamp => "Timestamp";
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header line: its name, the spelling it arrived with when different from the
/// canonical one, and the raw value (folding kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The recognised name.
    pub name: HeaderName,
    /// The name as received when it differs from `name.as_str()` (compact or other case).
    pub raw_name: Option<Box<str>>,
    /// The value exactly as received, without the leading LWS and trailing CRLF.
    pub value: String,
}

impl Header {
    /// A header built by us.
    pub fn new(name: HeaderName, value: impl Into<String>) -> Self {
        Self { name, raw_name: None, value: value.into() }
    }

    /// The name as it will be printed.
    #[must_use]
    pub fn printed_name(&self) -> &str {
        self.raw_name.as_deref().unwrap_or_else(|| self.name.as_str())
    }
}

/// The header section in order of arrival.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

/// `CSeq: 4711 INVITE` (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number, less than 2^31 (§8.1.1.5).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Parse a CSeq value.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bad = |reason| ParseError::InvalidHeader { header: "CSeq", reason };
        let s = s.trim_matches(is_lws);
        let (num, method) = s.split_once(is_lws).ok_or_else(|| bad("missing method"))?;
        if num.is_empty() || num.len() > 10 || !num.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("sequence number is not a 32-bit number"));
        }
        let seq: u64 = num.parse().map_err(|_| bad("sequence number"))?;
        if seq >= 1 << 31 {
            return Err(bad("sequence number not below 2^31"));
        }
        let method = method.trim_matches(is_lws).parse().map_err(|_| bad("method"))?;
        Ok(Self { seq: seq as u32, method })
    }
}

impl CSeq {
    /// The header value, `seq METHOD` (built directly: a `format!` per request sent).
    #[must_use]
    pub fn value(seq: u32, method: &Method) -> String {
        let method = method.as_str();
        let mut out = String::with_capacity(11 + method.len());
        // writing into a String cannot fail
        let _ = crate::text::fmt_decimal(&mut out, seq);
        out.push(' ');
        out.push_str(method);
        out
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl Headers {
    /// No headers.
    #[must_use]
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// No headers, with room for `n` lines.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// The last line, to extend it (a folded continuation while parsing).
    pub(crate) fn last_mut(&mut self) -> Option<&mut Header> {
        self.0.last_mut()
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// Number of header lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Append a header line.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header::new(name, value));
    }

    /// Append an already-built header.
    pub fn push_header(&mut self, h: Header) {
        self.0.push(h);
    }

    /// Insert a header line before all others of any name (used for a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.insert(0, Header::new(name, value));
    }

    /// Replace the first comma-separated value of the first line with this name (the top
    /// Via when a proxy or server stamps it), keeping the line's other values and every
    /// later line as they are. False when there is no such line.
    pub fn replace_first_value(&mut self, name: &HeaderName, value: &str) -> bool {
        let Some(h) = self.0.iter_mut().find(|h| &h.name == name) else { return false };
        let unfolded = unfold(&h.value);
        let mut items = split_commas(&unfolded);
        let _old_first = items.next();
        let mut new = String::with_capacity(value.len() + unfolded.len());
        new.push_str(value);
        for item in items {
            new.push_str(", ");
            new.push_str(item);
        }
        h.value = new;
        true
    }

    /// Remove every line with this name.
    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    /// Replace every line with this name by one line.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        if let Some(i) = self.0.iter().position(|h| h.name == name) {
            self.0[i] = Header::new(name.clone(), value);
            let mut seen = false;
            self.0.retain(|h| {
                if h.name == name {
                    let keep = !seen;
                    seen = true;
                    keep
                } else {
                    true
                }
            });
        } else {
            self.push(name, value);
        }
    }

    /// The raw value of the first line with this name.
    #[must_use]
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0.iter().find(|h| &h.name == name).map(|h| h.value.as_str())
    }

    /// Raw values of every line with this name.
    pub fn get_all<'a, 'n>(&'a self, name: &'n HeaderName) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.0.iter().filter(move |h| &h.name == name).map(|h| h.value.as_str())
    }

    /// Every comma-separated value over every line with this name, unfolded.
    #[must_use]
    pub fn values(&self, name: &HeaderName) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.get_all(name) {
            let v = unfold(v);
            for item in split_commas(&v) {
                out.push(item.to_owned());
            }
        }
        out
    }

    /// The single value of a header that must not repeat (Call-ID, CSeq, From, To, ...).
    /// Unfolded and trimmed; borrowed from the line unless it was folded (a copy per
    /// header asked for was most of reading Max-Forwards or Expires).
    pub fn single(&self, name: &HeaderName, label: &'static str) -> Result<Option<Cow<'_, str>>, ParseError> {
        let mut it = self.get_all(name);
        let Some(first) = it.next() else {
            return Ok(None);
        };
        if it.next().is_some() {
            return Err(ParseError::MultipleValues(label));
        }
        Ok(Some(Line::One(first).value(label)?))
    }

    /// The single value of a mandatory header (RFC 3261 §8.1.1): missing is an error.
    fn required(&self, name: &HeaderName, label: &'static str) -> Result<Cow<'_, str>, ParseError> {
        self.single(name, label)?.ok_or(ParseError::MissingHeader(label))
    }

    /// The lines of the headers every message must carry, found in one pass over the
    /// header section (a search per header was 5 % of the engine's instructions).
    pub(crate) fn mandatory(&self) -> Mandatory<'_> {
        let mut m = Mandatory::default();
        for h in &self.0 {
            let slot = match h.name {
                HeaderName::Via => {
                    m.via.get_or_insert(&h.value);
                    continue;
                }
                HeaderName::CallId => &mut m.call_id,
                HeaderName::CSeq => &mut m.cseq,
                HeaderName::From => &mut m.from,
                HeaderName::To => &mut m.to,
                _ => continue,
            };
            *slot = match slot {
                Line::Missing => Line::One(&h.value),
                _ => Line::Repeated,
            };
        }
        m
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        self.values(&HeaderName::Via).iter().map(|v| Via::parse(v)).collect()
    }

    /// The top Via, checked, as its text.
    pub fn top_via_field(&self) -> Result<ViaField, ParseError> {
        ViaField::parse(self.top_via_text()?)
    }

    /// The top Via.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        Via::parse(&self.top_via_text()?)
    }

    /// The first value of the first Via line, unfolded.
    fn top_via_text(&self) -> Result<String, ParseError> {
        top_via_text(self.get(&HeaderName::Via))
    }

    /// Parsed CSeq.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        let v = self.required(&HeaderName::CSeq, "CSeq")?;
        CSeq::parse(&v)
    }

    /// Call-ID value.
    pub fn call_id(&self) -> Result<String, ParseError> {
        check_call_id(self.required(&HeaderName::CallId, "Call-ID")?.into_owned())
    }

    /// From, its structure checked and its tag found.
    pub fn from_field(&self) -> Result<AddrField, ParseError> {
        let v = self.required(&HeaderName::From, "From")?;
        AddrField::parse(v.into_owned(), "From")
    }

    /// To, its structure checked and its tag found.
    pub fn to_field(&self) -> Result<AddrField, ParseError> {
        let v = self.required(&HeaderName::To, "To")?;
        AddrField::parse(v.into_owned(), "To")
    }

    /// From as name-addr.
    pub fn from_addr(&self) -> Result<NameAddr, ParseError> {
        let v = self.required(&HeaderName::From, "From")?;
        NameAddr::parse(&v, "From")
    }

    /// To as name-addr.
    pub fn to_addr(&self) -> Result<NameAddr, ParseError> {
        let v = self.required(&HeaderName::To, "To")?;
        NameAddr::parse(&v, "To")
    }

    /// Max-Forwards (0..=255), if present.
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        let Some(v) = self.single(&HeaderName::MaxForwards, "Max-Forwards")? else {
            return Ok(None);
        };
        // leading zeros are legal (RFC 4475 §3.1.1.1 sends 0068)
        let digits = v.trim_start_matches('0');
        let bad = ParseError::InvalidHeader { header: "Max-Forwards", reason: "not a number from 0 to 255" };
        if v.is_empty() || digits.len() > 3 || !v.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad);
        }
        if digits.is_empty() {
            return Ok(Some(0));
        }
        digits.parse::<u8>().map(Some).map_err(|_| bad)
    }

    /// Expires as delta-seconds (RFC 3261 §20.19), if present.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.single(&HeaderName::Expires, "Expires")?.map(|v| parse_delta_seconds(&v, "Expires")).transpose()
    }

    /// Contact values. `Ok(None)` when absent; `Contact: *` yields [`Contacts::Star`].
    pub fn contacts(&self) -> Result<Option<Contacts>, ParseError> {
        let values = self.values(&HeaderName::Contact);
        if values.is_empty() {
            return Ok(None);
        }
        if values.iter().any(|v| v == "*") {
            if values.len() != 1 {
                return Err(ParseError::InvalidHeader { header: "Contact", reason: "* combined with other contacts" });
            }
            return Ok(Some(Contacts::Star));
        }
        values
            .iter()
            .map(|v| NameAddr::parse(v, "Contact"))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Some(Contacts::List(v)))
    }

    /// Option tags of a Require-like header, lower-cased.
    #[must_use]
    pub fn option_tags(&self, name: &HeaderName) -> Vec<String> {
        self.values(name).into_iter().filter(|t| !t.is_empty()).map(|t| t.to_ascii_lowercase()).collect()
    }

    /// The bytes [`Headers::write_to`] prints, so a message is printed into a buffer of
    /// the right size at once.
    #[must_use]
    pub fn printed_len(&self) -> usize {
        self.0.iter().map(|h| h.printed_name().len() + h.value.len() + 4).sum()
    }

    /// Write every header line as `Name: value\r\n`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for h in &self.0 {
            out.extend_from_slice(h.printed_name().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Contact header contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// `Contact: *` (only valid in REGISTER with Expires: 0, RFC 3261 §10.2.2).
    Star,
    /// One or more addresses.
    List(Vec<NameAddr>),
}

/// Parse delta-seconds, rejecting values that do not fit 32 bits (RFC 4475 §3.1.2.4).
pub fn parse_delta_seconds(v: &str, header: &'static str) -> Result<u32, ParseError> {
    let v = v.trim_matches(is_lws);
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::InvalidHeader { header, reason: "not delta-seconds" });
    }
    v.parse().map_err(|_| ParseError::InvalidHeader { header, reason: "delta-seconds larger than 2^32-1" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_value_prints_as_display_does() {
        for seq in [0, 1, 9, 10, 4711, (1 << 31) - 1, u32::MAX] {
            let built = CSeq::value(seq, &Method::Invite);
            assert_eq!(built, CSeq { seq, method: Method::Invite }.to_string());
        }
        assert_eq!(CSeq::value(2, &"FOO".parse().expect("extension method")), "2 FOO");
    }

    #[test]
    fn compact_and_case_insensitive_names() {
        assert_eq!(HeaderName::parse("i"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("cAlL-iD"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("v"), HeaderName::Via);
        assert_eq!(HeaderName::parse("X-Custom"), HeaderName::Other("X-Custom".into()));
    }

    #[test]
    fn cseq_bounds() {
        assert_eq!(CSeq::parse("2147483647 INVITE").expect("max").seq, 2_147_483_647);
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
    }

    #[test]
    fn single_values_read_unfolded_and_trimmed() {
        let mut h = Headers::new();
        h.push(HeaderName::Expires, "\r\n 3600 ");
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, "<sip:a@example>\r\n ;tag=1");
        assert_eq!(h.expires().expect("expires"), Some(3600));
        assert_eq!(h.max_forwards().expect("max-forwards"), Some(70));
        assert_eq!(h.single(&HeaderName::From, "From").expect("one").as_deref(), Some("<sip:a@example>  ;tag=1"));
        assert_eq!(h.from_field().expect("from").tag(), Some("1"));
        h.push(HeaderName::Expires, "60");
        assert_eq!(h.expires(), Err(ParseError::MultipleValues("Expires")));
    }

    #[test]
    fn set_replaces_all_lines_of_a_name() {
        let mut h = Headers::new();
        h.push(HeaderName::Via, "a");
        h.push(HeaderName::To, "t");
        h.push(HeaderName::Via, "b");
        h.set(HeaderName::Via, "c");
        assert_eq!(h.get_all(&HeaderName::Via).collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn star_contact_must_be_alone() {
        let mut h = Headers::new();
        h.push(HeaderName::Contact, "*");
        assert_eq!(h.contacts().expect("star"), Some(Contacts::Star));
        h.push(HeaderName::Contact, "<sip:a@b>");
        assert!(h.contacts().is_err());
    }
}

/// One mandatory header's lines (see [`Headers::mandatory`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Line<'a> {
    #[default]
    Missing,
    One(&'a str),
    Repeated,
}

impl<'a> Line<'a> {
    /// The value, unfolded and trimmed, as [`Headers::single`] gives it; missing or
    /// repeated is an error.
    pub(crate) fn value(self, label: &'static str) -> Result<Cow<'a, str>, ParseError> {
        match self {
            Line::One(v) => Ok(match unfold(v) {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim_matches(is_lws)),
                Cow::Owned(o) => Cow::Owned(o.trim_matches(is_lws).to_owned()),
            }),
            Line::Missing => Err(ParseError::MissingHeader(label)),
            Line::Repeated => Err(ParseError::MultipleValues(label)),
        }
    }
}

/// The lines of Via (the first), Call-ID, CSeq, From and To.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mandatory<'a> {
    pub(crate) via: Option<&'a str>,
    pub(crate) call_id: Line<'a>,
    pub(crate) cseq: Line<'a>,
    pub(crate) from: Line<'a>,
    pub(crate) to: Line<'a>,
}

/// The first value of the first Via line, unfolded.
pub(crate) fn top_via_text(first_line: Option<&str>) -> Result<String, ParseError> {
    let first = unfold(first_line.ok_or(ParseError::MissingHeader("Via"))?);
    let top = split_commas(&first).next().unwrap_or_default();
    // with room for the `received` and `rport` a request's top Via is stamped with
    // (§18.2.1, RFC 3581 §4), so stamping it does not move it
    let mut text = String::with_capacity(top.len() + STAMP_ROOM);
    text.push_str(top);
    Ok(text)
}

/// `;received=255.255.255.255;rport=65535`, rounded up.
const STAMP_ROOM: usize = 40;

/// A Call-ID value must be a non-empty word (RFC 3261 §25.1 `callid`).
pub(crate) fn check_call_id(v: String) -> Result<String, ParseError> {
    if v.is_empty() || v.bytes().any(|c| c == b' ' || c == b'\t') {
        return Err(ParseError::InvalidHeader { header: "Call-ID", reason: "empty or contains whitespace" });
    }
    Ok(v)
}
