//! Lexical helpers from RFC 3261 §25.1: tokens, quoted strings, LWS and list splitting.
//! Everything here works on already-unfolded text (see [`unfold`]).

use std::borrow::Cow;

/// `token` characters (RFC 3261 §25.1).
#[must_use]
pub fn is_token_char(c: u8) -> bool {
    TOKEN_CHARS[usize::from(c)]
}

/// `token` membership by byte, built once at compile time (it is asked for every byte of
/// every header name and parameter).
static TOKEN_CHARS: [bool; 256] = alnum_and(b"-.!%*_+`'~");

/// A byte-membership table: ASCII letters and digits plus `extra`, built at compile time
/// for character classes asked about every byte of a message.
pub(crate) const fn alnum_and(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// True when `s` is a non-empty `token`.
#[must_use]
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Replace line folding (CRLF followed by SP/HT) by a single space (RFC 3261 §7.3.1).
/// Borrows when there is nothing to unfold, which is the common case.
#[must_use]
pub fn unfold(value: &str) -> Cow<'_, str> {
    if memchr::memchr2(b'\r', b'\n', value.as_bytes()).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            while matches!(chars.peek(), Some('\r' | '\n')) {
                chars.next();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Split a header value at top-level commas: commas inside quoted strings or `<...>`
/// do not separate (RFC 3261 §7.3.1). Items are trimmed; an empty item is kept so
/// that callers can reject `a,,b`.
pub fn split_commas(value: &str) -> impl Iterator<Item = &str> {
    SplitTop::new(value, b',')
}

/// Split at top-level semicolons (parameters), same quoting rules as [`split_commas`].
pub fn split_semicolons(value: &str) -> impl Iterator<Item = &str> {
    SplitTop::new(value, b';')
}

struct SplitTop<'a> {
    rest: Option<&'a str>,
    sep: u8,
    /// No quote and no `<` anywhere: every separator is top-level, found by `memchr`
    /// (most Via, CSeq and parameter lists; the byte loop was 6 % of the SIP engine).
    plain: bool,
}

impl<'a> SplitTop<'a> {
    fn new(value: &'a str, sep: u8) -> Self {
        Self { rest: Some(value), sep, plain: memchr::memchr2(b'"', b'<', value.as_bytes()).is_none() }
    }
}

impl<'a> Iterator for SplitTop<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let bytes = s.as_bytes();
        if self.plain {
            return Some(match memchr::memchr(self.sep, bytes) {
                Some(i) => {
                    self.rest = Some(&s[i + 1..]);
                    s[..i].trim_matches(is_lws)
                }
                None => {
                    self.rest = None;
                    s.trim_matches(is_lws)
                }
            });
        }
        let mut in_quote = false;
        let mut angle = 0usize;
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if in_quote {
                if c == b'\\' {
                    i += 1;
                } else if c == b'"' {
                    in_quote = false;
                }
            } else if c == b'"' {
                in_quote = true;
            } else if c == b'<' {
                angle += 1;
            } else if c == b'>' {
                angle = angle.saturating_sub(1);
            } else if c == self.sep && angle == 0 {
                self.rest = Some(&s[i + 1..]);
                return Some(s[..i].trim_matches(is_lws));
            }
            i += 1;
        }
        self.rest = None;
        Some(s.trim_matches(is_lws))
    }
}

/// Linear white space after unfolding.
#[must_use]
pub fn is_lws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parse a `quoted-string` at the start of `s` (after optional LWS). Returns the
/// unescaped content (borrowed when it holds no escape) and the rest after the closing
/// quote.
pub fn parse_quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let s = s.trim_start_matches(is_lws);
    let body = s.strip_prefix('"')?;
    // Most quoted strings hold no escape: copy them in one piece.
    match memchr::memchr2(b'"', b'\\', body.as_bytes()) {
        Some(end) if body.as_bytes()[end] == b'"' => return Some((Cow::Borrowed(&body[..end]), &body[end + 1..])),
        None => return None,
        Some(_) => {}
    }
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, esc) = chars.next()?;
                // quoted-pair excludes CR and LF (RFC 3261 §25.1)
                if esc == '\r' || esc == '\n' {
                    return None;
                }
                out.push(esc);
            }
            '"' => return Some((Cow::Owned(out), &body[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

/// Quote `s` as a `quoted-string`, escaping `"` and `\`.
#[must_use]
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Decode `%HH` escapes once (RFC 3261 §19.1.2). Invalid escapes are kept literally,
/// matching RFC 4475 §3.1.1.5 (a `%` that is not an escape is accepted as-is).
#[must_use]
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Parse `name[=value]` parameters after the first `;`. Names are compared
/// case-insensitively by callers; values keep their original spelling.
/// Returns `None` for an empty or non-token parameter name (RFC 4475 §3.1.2.1).
pub fn parse_params(s: &str) -> Option<Vec<Param>> {
    params(s).map(|p| p.map(|(name, value)| Param { name: name.to_owned(), value: value.map(str::to_owned) })).collect()
}

/// `;`-separated parameters, each checked and borrowed: `None` for one that is not
/// `token [= token / quoted-string]` (an empty one included), after which the list ends.
///
/// One pass over the bytes: splitting on `;` first and then checking each piece (with a
/// trim and a search per piece) cost about a thousand instructions per Via.
pub fn params(s: &str) -> Params<'_> {
    Params { rest: Some(s) }
}

/// The iterator of [`params`].
#[derive(Debug, Clone)]
pub struct Params<'a> {
    rest: Option<&'a str>,
}

/// The index of the first byte at or after `i` that is not SP or HT.
pub(crate) fn skip_lws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The index of the first byte at or after `i` that is not a `token` character.
pub(crate) fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_token_char(b[i]) {
        i += 1;
    }
    i
}

fn is_param_value_char(c: u8) -> bool {
    // `[`, `]` and `:` for IPv6 references in `received` and `maddr`
    is_token_char(c) || matches!(c, b'[' | b']' | b':')
}

impl<'a> Iterator for Params<'a> {
    type Item = Option<(&'a str, Option<&'a str>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.take()?;
        let b = s.as_bytes();
        let name_start = skip_lws(b, 0);
        let mut i = token_end(b, name_start);
        let name = &s[name_start..i];
        i = skip_lws(b, i);
        let mut value = None;
        if b.get(i) == Some(&b'=') {
            let start = skip_lws(b, i + 1);
            i = start;
            if b.get(i) == Some(&b'"') {
                let Some((_, rest)) = parse_quoted(&s[i..]) else {
                    return Some(None);
                };
                i = s.len() - rest.len();
            } else {
                while i < b.len() && is_param_value_char(b[i]) {
                    i += 1;
                }
            }
            if i == start {
                return Some(None);
            }
            value = Some(&s[start..i]);
            i = skip_lws(b, i);
        }
        if name.is_empty() {
            return Some(None);
        }
        match b.get(i) {
            None => {}
            Some(b';') => self.rest = Some(&s[i + 1..]),
            Some(_) => return Some(None),
        }
        Some(Some((name, value)))
    }
}

/// A `generic-param`: `name` or `name=value`, value kept as written (quoted or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Parameter name as written.
    pub name: String,
    /// Value as written, including quotes if it was quoted.
    pub value: Option<String>,
}

impl Param {
    /// A parameter with a value.
    pub fn new(name: impl Into<String>, value: Option<impl Into<String>>) -> Self {
        Self { name: name.into(), value: value.map(Into::into) }
    }
}

/// Find a parameter by case-insensitive name.
#[must_use]
pub fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Write parameters as `;name=value` pairs.
/// Print `;name=value` for each parameter straight into a formatter (no buffer).
pub(crate) fn fmt_params(f: &mut impl std::fmt::Write, params: &[Param]) -> std::fmt::Result {
    for p in params {
        f.write_char(';')?;
        f.write_str(&p.name)?;
        if let Some(v) = &p.value {
            f.write_char('=')?;
            f.write_str(v)?;
        }
    }
    Ok(())
}

/// Print a decimal number without the formatting machinery (ports and address octets are
/// printed for every message).
pub fn fmt_decimal(f: &mut impl std::fmt::Write, mut n: u32) -> std::fmt::Result {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // only ASCII digits were written
    f.write_str(std::str::from_utf8(&buf[i..]).unwrap_or_default())
}

/// Append `;name=value` for each parameter.
pub fn write_params(out: &mut String, params: &[Param]) {
    // writing into a String cannot fail
    let _ = fmt_params(out, params);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The `memchr` path splits exactly as the quote- and angle-aware byte loop does
        /// wherever it is taken.
        #[test]
        fn the_plain_fast_path_splits_like_the_general_loop(value in "[a-z ;,=>\t\"<]{0,40}", comma in any::<bool>()) {
            let sep = if comma { b',' } else { b';' };
            let fast: Vec<&str> = SplitTop::new(&value, sep).collect();
            let general: Vec<&str> = SplitTop { rest: Some(&value), sep, plain: false }.collect();
            prop_assert_eq!(fast, general);
        }
    }

    /// The split-then-check reading of a parameter list the one-pass scanner replaced.
    fn params_by_splitting(s: &str) -> Option<Vec<(&str, Option<&str>)>> {
        split_semicolons(s)
            .map(|item| {
                let (name, value) = match item.split_once('=') {
                    Some((n, v)) => (n.trim_matches(is_lws), Some(v.trim_matches(is_lws))),
                    None => (item, None),
                };
                if !is_token(name) {
                    return None;
                }
                if let Some(v) = value {
                    if v.is_empty() {
                        return None;
                    }
                    if v.starts_with('"') {
                        let (_, rest) = parse_quoted(v)?;
                        if !rest.trim_matches(is_lws).is_empty() {
                            return None;
                        }
                    } else if !v.bytes().all(is_param_value_char) {
                        return None;
                    }
                }
                Some((name, value))
            })
            .collect()
    }

    proptest! {
        /// The scanner accepts exactly the lists the split-then-check reading accepts,
        /// with the same names and values.
        #[test]
        fn params_scanner_agrees_with_splitting(value in "[a-z; =\t\"\\\\:\\[\\]<>,]{0,30}") {
            let scanned: Option<Vec<_>> = params(&value).collect();
            prop_assert_eq!(scanned, params_by_splitting(&value));
        }
    }

    #[test]
    fn params_scanner_reads_lws_quotes_and_ipv6() {
        let got: Option<Vec<_>> = params(" branch = z9hG4bK1 ; rport;received=[2001:db8::1];x=\"a;\\\"b\" ").collect();
        assert_eq!(
            got,
            Some(vec![
                ("branch", Some("z9hG4bK1")),
                ("rport", None),
                ("received", Some("[2001:db8::1]")),
                ("x", Some("\"a;\\\"b\"")),
            ])
        );
        for bad in ["", ";", "a;", "a=", "a=\"open", "a b", "=v", "a=v w", "a=<v>"] {
            assert!(params(bad).any(|p| p.is_none()), "{bad:?} accepted");
        }
    }

    #[test]
    fn commas_inside_quotes_and_angles_do_not_split() {
        let items: Vec<_> = split_commas(r#""Doe, John" <sip:a@b;x=1,2>, <sip:c@d> , sip:e@f"#).collect();
        assert_eq!(items, vec![r#""Doe, John" <sip:a@b;x=1,2>"#, "<sip:c@d>", "sip:e@f"]);
    }

    #[test]
    fn quoted_string_unescapes_quoted_pairs() {
        let (s, rest) = parse_quoted(r#" "a \"b\" \\c" <x>"#).expect("quoted");
        assert_eq!(s, r#"a "b" \c"#);
        assert_eq!(rest, " <x>");
        assert!(parse_quoted(r#""unterminated"#).is_none());
    }

    #[test]
    fn unescape_decodes_once_and_keeps_invalid_escapes() {
        assert_eq!(unescape("a%2541"), "a%41");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%zz"), "%zz");
        assert_eq!(unescape("%41%42"), "AB");
    }

    #[test]
    fn unfold_joins_continuation_lines() {
        assert_eq!(unfold("a,\r\n b"), "a,  b");
        assert!(matches!(unfold("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn empty_parameter_is_rejected() {
        assert!(parse_params("a=1;;b").is_none());
        assert!(parse_params("a=").is_none());
        let p = parse_params("lr;transport=udp;x=\"q;v\"").expect("params");
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].value.as_deref(), Some("\"q;v\""));
    }
}
