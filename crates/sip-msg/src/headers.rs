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
                Self::known(name).unwrap_or_else(|| Self::Other(name.into()))
            }
        }

        /// Every known name: canonical spelling and compact form (for tests of
        /// [`HeaderName::known`], which is written out by hand).
        #[cfg(test)]
        const KNOWN: &[(HeaderName, &str, Option<&str>)] = &[
            $( (HeaderName::$variant, $canon, header_names!(@compact $($compact)?)), )*
        ];
    };
    (@compact $compact:literal) => { Some($compact) };
    (@compact) => { None };
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

impl HeaderName {
    /// A known name, found by its length first: one comparison or a few instead of one per
    /// known name (the chain was 2.5 % of the engine's instructions per REGISTER). The
    /// `KNOWN` test holds this table to the list above.
    fn known(name: &str) -> Option<Self> {
        // most senders write the canonical case: a plain comparison settles those
        let is = |canon: &str| name == canon || name.eq_ignore_ascii_case(canon);
        Some(match name.len() {
            // compact forms, RFC 3261 §7.3.3 and the extensions that define one
            1 => match name.as_bytes()[0].to_ascii_lowercase() {
                b'v' => Self::Via,
                b'f' => Self::From,
                b't' => Self::To,
                b'i' => Self::CallId,
                b'm' => Self::Contact,
                b'l' => Self::ContentLength,
                b'c' => Self::ContentType,
                b'e' => Self::ContentEncoding,
                b'k' => Self::Supported,
                b's' => Self::Subject,
                b'o' => Self::Event,
                b'r' => Self::ReferTo,
                b'b' => Self::ReferredBy,
                b'x' => Self::SessionExpires,
                _ => return None,
            },
            2 if is("To") => Self::To,
            3 if is("Via") => Self::Via,
            4 if is("From") => Self::From,
            4 if is("CSeq") => Self::CSeq,
            4 if is("Date") => Self::Date,
            5 if is("Route") => Self::Route,
            5 if is("Allow") => Self::Allow,
            5 if is("Event") => Self::Event,
            6 if is("Accept") => Self::Accept,
            6 if is("Server") => Self::Server,
            7 if is("Call-ID") => Self::CallId,
            7 if is("Contact") => Self::Contact,
            7 if is("Expires") => Self::Expires,
            7 if is("Require") => Self::Require,
            7 if is("Subject") => Self::Subject,
            8 if is("Refer-To") => Self::ReferTo,
            9 if is("Supported") => Self::Supported,
            9 if is("Timestamp") => Self::Timestamp,
            10 if is("User-Agent") => Self::UserAgent,
            11 if is("Min-Expires") => Self::MinExpires,
            11 if is("Unsupported") => Self::Unsupported,
            11 if is("Retry-After") => Self::RetryAfter,
            11 if is("Referred-By") => Self::ReferredBy,
            12 if is("Max-Forwards") => Self::MaxForwards,
            12 if is("Content-Type") => Self::ContentType,
            12 if is("Record-Route") => Self::RecordRoute,
            13 if is("Authorization") => Self::Authorization,
            13 if is("Proxy-Require") => Self::ProxyRequire,
            14 if is("Content-Length") => Self::ContentLength,
            15 if is("Session-Expires") => Self::SessionExpires,
            16 if is("WWW-Authenticate") => Self::WwwAuthenticate,
            16 if is("Content-Encoding") => Self::ContentEncoding,
            18 if is("Proxy-Authenticate") => Self::ProxyAuthenticate,
            19 if is("Proxy-Authorization") => Self::ProxyAuthorization,
            19 if is("Authentication-Info") => Self::AuthenticationInfo,
            _ => return None,
        })
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header line as read from a [`Headers`]: its name, the spelling it arrived with,
/// and the raw value (folding kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The recognised name.
    pub name: &'a HeaderName,
    /// The value exactly as received, without the leading LWS and trailing CRLF.
    pub value: &'a str,
    /// The name as it will be printed (compact or other case kept as received).
    printed: &'a str,
}

impl Header<'_> {
    /// The name as it will be printed.
    #[must_use]
    pub fn printed_name(&self) -> &str {
        self.printed
    }
}

/// Where a name or value lies in the section's text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    pub(crate) fn end(self) -> usize {
        self.end
    }

    fn len(self) -> usize {
        self.end - self.start
    }
}

/// A line of the section: its name, the received spelling when it differs from the
/// canonical one, and where its value lies.
#[derive(Debug, Clone)]
struct Entry {
    name: HeaderName,
    raw_name: Option<Span>,
    value: Span,
    /// The value holds a line break (a folded line, RFC 3261 §7.3.1): only such values
    /// are unfolded when read.
    folded: bool,
}

/// A line's raw value, and whether it needs unfolding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Value<'a> {
    text: &'a str,
    folded: bool,
}

impl<'a> Value<'a> {
    /// The value with its line breaks replaced by spaces (borrowed when it has none).
    pub(crate) fn unfolded(self) -> Cow<'a, str> {
        if self.folded { unfold(self.text) } else { Cow::Borrowed(self.text) }
    }
}

impl Entry {
    fn printed_name_len(&self) -> usize {
        self.raw_name.map_or_else(|| self.name.as_str().len(), Span::len)
    }
}

/// The header section in order of arrival. Every name and value lives in one text buffer
/// (a parsed message's section is copied into it once); the lines are spans into it, so
/// reading a message or copying lines into a response allocates per message, not per
/// line. A line replaced or removed leaves its old text behind until the message is
/// dropped: messages live for one exchange.
#[derive(Clone, Default)]
pub struct Headers {
    text: String,
    entries: Vec<Entry>,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|h| (h.printed, h.value))).finish()
    }
}

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
        Self::default()
    }

    /// No headers, with room for `n` lines of usual length.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self { text: String::with_capacity(n * 48), entries: Vec::with_capacity(n) }
    }

    /// A section to be filled with [`Headers::push_parsed`] from spans of `section`,
    /// which becomes its text (with `room` more bytes for lines added later).
    pub(crate) fn parsed_from(section: &str, room: usize) -> Self {
        let mut text = String::with_capacity(section.len() + room);
        text.push_str(section);
        Self { text, entries: Vec::with_capacity(16) }
    }

    /// Append a parsed line: spans into the text given to [`Headers::parsed_from`].
    pub(crate) fn push_parsed(&mut self, name: HeaderName, raw_name: Option<Span>, value: Span) {
        self.entries.push(Entry { name, raw_name, value, folded: false });
    }

    /// Extend the last line's value to `end` (a folded continuation, RFC 3261 §7.3.1).
    /// False when there is no line to extend.
    pub(crate) fn extend_last(&mut self, end: usize) -> bool {
        self.entries
            .last_mut()
            .map(|e| {
                e.value.end = end;
                e.folded = true;
            })
            .is_some()
    }

    fn append(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span::new(start, self.text.len())
    }

    fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }

    fn view<'a>(&'a self, e: &'a Entry) -> Header<'a> {
        let printed = match e.raw_name {
            Some(raw) => self.slice(raw),
            None => e.name.as_str(),
        };
        Header { name: &e.name, value: self.slice(e.value), printed }
    }

    fn entry(&mut self, name: HeaderName, value: &str) -> Entry {
        let folded = memchr::memchr2(b'\r', b'\n', value.as_bytes()).is_some();
        Entry { value: self.append(value), name, raw_name: None, folded }
    }

    fn value_of(&self, e: &Entry) -> Value<'_> {
        Value { text: self.slice(e.value), folded: e.folded }
    }

    /// The values of every line with this name, each knowing whether it needs unfolding.
    pub(crate) fn values_of<'a, 'n>(&'a self, name: &'n HeaderName) -> impl Iterator<Item = Value<'a>> + use<'a, 'n> {
        self.entries.iter().filter(move |e| &e.name == name).map(|e| self.value_of(e))
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = Header<'_>> {
        self.entries.iter().map(|e| self.view(e))
    }

    /// Number of header lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no headers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Append a header line.
    pub fn push(&mut self, name: HeaderName, value: impl AsRef<str>) {
        let e = self.entry(name, value.as_ref());
        self.entries.push(e);
    }

    /// Append copies of the lines of `from` whose names `keep` picks, spelled as they were
    /// there (a response's Via, From, To, Call-ID and CSeq, RFC 3261 §8.2.6.2).
    pub fn copy_lines(&mut self, from: &Self, keep: impl Fn(&HeaderName) -> bool) {
        for e in from.entries.iter().filter(|e| keep(&e.name)) {
            let value = self.append(from.slice(e.value));
            let raw_name = e.raw_name.map(|raw| self.append(from.slice(raw)));
            self.entries.push(Entry { name: e.name.clone(), raw_name, value, folded: e.folded });
        }
    }

    /// Insert a header line before all others of any name (used for a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl AsRef<str>) {
        let e = self.entry(name, value.as_ref());
        self.entries.insert(0, e);
    }

    /// Replace the first comma-separated value of the first line with this name (the top
    /// Via when a proxy or server stamps it), keeping the line's other values and every
    /// later line as they are. False when there is no such line.
    pub fn replace_first_value(&mut self, name: &HeaderName, value: &str) -> bool {
        let Some(i) = self.entries.iter().position(|e| &e.name == name) else { return false };
        // the line's other values, joined anew, when it has any (a Via line usually has one)
        let others = {
            let unfolded = self.value_of(&self.entries[i]).unfolded();
            let mut items = split_commas(&unfolded);
            let _old_first = items.next();
            let mut items = items.peekable();
            items.peek().is_some().then(|| {
                let mut rest = String::with_capacity(unfolded.len());
                for item in items {
                    rest.push_str(", ");
                    rest.push_str(item);
                }
                rest
            })
        };
        let start = self.text.len();
        self.text.push_str(value);
        if let Some(rest) = others {
            self.text.push_str(&rest);
        }
        self.entries[i].value = Span::new(start, self.text.len());
        true
    }

    /// Remove every line with this name.
    pub fn remove(&mut self, name: &HeaderName) {
        self.entries.retain(|e| &e.name != name);
    }

    /// Replace every line with this name by one line.
    pub fn set(&mut self, name: HeaderName, value: impl AsRef<str>) {
        if let Some(i) = self.entries.iter().position(|e| e.name == name) {
            let e = self.entry(name, value.as_ref());
            let mut j = 0;
            self.entries.retain(|other| {
                let keep = j <= i || other.name != e.name;
                j += 1;
                keep
            });
            self.entries[i] = e;
        } else {
            self.push(name, value);
        }
    }

    /// The raw value of the first line with this name.
    #[must_use]
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Raw values of every line with this name.
    pub fn get_all<'a, 'n>(&'a self, name: &'n HeaderName) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.values_of(name).map(|v| v.text)
    }

    /// Every comma-separated value over every line with this name, unfolded.
    #[must_use]
    pub fn values(&self, name: &HeaderName) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.values_of(name) {
            let v = v.unfolded();
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
        let mut it = self.values_of(name);
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
        // names first: only the five lines wanted are sliced out of the text
        for e in &self.entries {
            let slot = match e.name {
                HeaderName::Via => {
                    if m.via.is_none() {
                        m.via = Some(self.value_of(e));
                    }
                    continue;
                }
                HeaderName::CallId => &mut m.call_id,
                HeaderName::CSeq => &mut m.cseq,
                HeaderName::From => &mut m.from,
                HeaderName::To => &mut m.to,
                _ => continue,
            };
            *slot = match slot {
                Line::Missing => Line::One(self.value_of(e)),
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
        top_via_text(self.values_of(&HeaderName::Via).next())
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
        self.entries.iter().map(|e| e.printed_name_len() + e.value.len() + 4).sum()
    }

    /// Write every header line as `Name: value\r\n`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // bytes, not `str` slices: the spans need no char-boundary checks to be printed
        let text = self.text.as_bytes();
        for e in &self.entries {
            match e.raw_name {
                Some(raw) => out.extend_from_slice(&text[raw.start..raw.end]),
                None => out.extend_from_slice(e.name.as_str().as_bytes()),
            }
            out.extend_from_slice(b": ");
            out.extend_from_slice(&text[e.value.start..e.value.end]);
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
    fn every_known_name_is_found_long_compact_and_in_any_case() {
        for (name, canon, compact) in KNOWN {
            assert_eq!(&HeaderName::parse(canon), name, "{canon}");
            assert_eq!(&HeaderName::parse(&canon.to_ascii_uppercase()), name, "{canon}");
            assert_eq!(&HeaderName::parse(&canon.to_ascii_lowercase()), name, "{canon}");
            if let Some(c) = compact {
                assert_eq!(&HeaderName::parse(c), name, "{c}");
                assert_eq!(&HeaderName::parse(&c.to_ascii_uppercase()), name, "{c}");
            }
        }
        // every one-letter name that is no compact form stays as written
        for c in b'a'..=b'z' {
            let letter = char::from(c).to_string();
            let compact = KNOWN.iter().any(|(_, _, k)| *k == Some(letter.as_str()));
            assert_eq!(matches!(HeaderName::parse(&letter), HeaderName::Other(_)), !compact, "{letter}");
        }
        assert_eq!(HeaderName::parse("Via-X"), HeaderName::Other("Via-X".into()));
        assert_eq!(HeaderName::parse(""), HeaderName::Other("".into()));
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
    fn replaced_lines_leave_nothing_behind_in_what_is_read_printed_or_compared() {
        let mut h = Headers::new();
        h.push(HeaderName::Via, "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2");
        h.push(HeaderName::To, "<sip:b@example>");
        h.push(HeaderName::Other("X-A".into()), "1");
        h.push(HeaderName::To, "<sip:c@example>");
        assert!(h.replace_first_value(&HeaderName::Via, "SIP/2.0/UDP a;branch=z9hG4bK1;received=192.0.2.1"));
        h.set(HeaderName::To, "<sip:b@example>;tag=9");
        h.remove(&HeaderName::Other("X-A".into()));
        h.push_front(HeaderName::Via, "SIP/2.0/UDP c;branch=z9hG4bK3");
        let mut printed = Vec::new();
        h.write_to(&mut printed);
        let expected = "Via: SIP/2.0/UDP c;branch=z9hG4bK3\r\n\
                        Via: SIP/2.0/UDP a;branch=z9hG4bK1;received=192.0.2.1, SIP/2.0/UDP b;branch=z9hG4bK2\r\n\
                        To: <sip:b@example>;tag=9\r\n";
        assert_eq!(String::from_utf8(printed).expect("text"), expected);
        assert_eq!(h.printed_len(), expected.len());

        // the same lines built afresh are equal, whatever text the edits left behind
        let mut fresh = Headers::new();
        fresh.push(HeaderName::Via, "SIP/2.0/UDP c;branch=z9hG4bK3");
        fresh.push(HeaderName::Via, "SIP/2.0/UDP a;branch=z9hG4bK1;received=192.0.2.1, SIP/2.0/UDP b;branch=z9hG4bK2");
        fresh.push(HeaderName::To, "<sip:b@example>;tag=9");
        assert_eq!(h, fresh);
        fresh.set(HeaderName::To, "<sip:b@example>;tag=8");
        assert_ne!(h, fresh);
    }

    #[test]
    fn copied_lines_keep_their_received_spelling() {
        let raw =
            b"OPTIONS sip:a@example SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:b@example>\r\n ;tag=1\r\n\
                    t: <sip:a@example>\r\ni: x\r\nCSEQ: 1 OPTIONS\r\nl: 0\r\n\r\n";
        let Some(crate::Message::Request(req)) = crate::parse_datagram(raw).expect("parses") else {
            panic!("a request")
        };
        assert_eq!(req.headers.get(&HeaderName::From), Some("<sip:b@example>\r\n ;tag=1"));
        // a folded line read as one value is unfolded, an unfolded one is read as it is
        assert_eq!(
            req.headers.single(&HeaderName::From, "From").expect("one From").as_deref(),
            Some("<sip:b@example>  ;tag=1")
        );
        assert_eq!(req.core().expect("core").from.tag(), Some("1"));
        assert_eq!(req.headers.single(&HeaderName::To, "To").expect("one To").as_deref(), Some("<sip:a@example>"));
        let resp = crate::Response::to_request(&req, 200);
        let names: Vec<_> = resp.headers.iter().map(|h| h.printed_name().to_owned()).collect();
        assert_eq!(names, ["v", "f", "t", "i", "CSEQ", "Content-Length"]);
        assert_eq!(resp.headers.iter().nth(1).map(|h| h.value), Some("<sip:b@example>\r\n ;tag=1"));
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
    One(Value<'a>),
    Repeated,
}

impl<'a> Line<'a> {
    /// The value, unfolded and trimmed, as [`Headers::single`] gives it; missing or
    /// repeated is an error.
    pub(crate) fn value(self, label: &'static str) -> Result<Cow<'a, str>, ParseError> {
        match self {
            Line::One(v) => Ok(match v.unfolded() {
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
    pub(crate) via: Option<Value<'a>>,
    pub(crate) call_id: Line<'a>,
    pub(crate) cseq: Line<'a>,
    pub(crate) from: Line<'a>,
    pub(crate) to: Line<'a>,
}

/// The first value of the first Via line, unfolded.
pub(crate) fn top_via_text(first_line: Option<Value<'_>>) -> Result<String, ParseError> {
    let first = first_line.ok_or(ParseError::MissingHeader("Via"))?.unfolded();
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
