//! URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other absolute URI
//! kept as written. User parts keep their `%` escapes; [`SipUri::user_unescaped`]
//! decodes them exactly once, when a comparison or lookup needs the value.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::ParseError;

use crate::text::{Param, find_param, fmt_decimal, fmt_params, parse_params, unescape};

/// A URI as it appears in a Request-URI or a name-addr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Any other scheme, kept verbatim (RFC 4475 §3.3.4: unknown schemes in headers pass).
    Other { scheme: String, rest: String },
}

/// `sip` or `sips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:` (TLS to every hop, RFC 3261 §26.2.2).
    Sips,
}

/// Host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, kept as written (compare case-insensitively).
    Domain(String),
    /// A dotted IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference, printed in brackets.
    V6(Ipv6Addr),
}

impl Host {
    /// Parse a host: `[v6]`, dotted IPv4, or a hostname (RFC 3261 §25.1 `host`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(ParseError::Uri("unclosed IPv6 reference"))?;
            return inner.parse().map(Self::V6).map_err(|_| ParseError::Uri("bad IPv6 reference"));
        }
        if s.is_empty() {
            return Err(ParseError::Uri("empty host"));
        }
        if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
            return parse_ipv4(s).map(Self::V4).ok_or(ParseError::Uri("bad IPv4 address"));
        }
        if is_hostname(s.as_bytes()) { Ok(Self::Domain(s.to_owned())) } else { Err(ParseError::Uri("bad hostname")) }
    }

    /// The IP address, when the host is a literal address.
    #[must_use]
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Self::V4(a) => Some((*a).into()),
            Self::V6(a) => Some((*a).into()),
            Self::Domain(_) => None,
        }
    }

    /// Case-insensitive host comparison (RFC 3261 §19.1.4).
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Domain(a), Self::Domain(b)) => a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.')),
            _ => self == other,
        }
    }
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]` (RFC 3261 §25.1): labels of letters,
/// digits and `-`, none empty and none starting or ending with `-`, one trailing dot
/// allowed. One pass over the bytes: splitting on dots was about a thousand
/// instructions per URI, and every Via, From, To, Contact and Request-URI has a host.
fn is_hostname(s: &[u8]) -> bool {
    let body = s.strip_suffix(b".").unwrap_or(s);
    // the byte before the current one; a dot at the start stands for "a label begins"
    let mut prev = b'.';
    for &c in body {
        match c {
            b'.' if prev == b'.' || prev == b'-' => return false,
            b'-' if prev == b'.' => return false,
            b'.' | b'-' => {}
            c if c.is_ascii_alphanumeric() => {}
            _ => return false,
        }
        prev = c;
    }
    // empty (no label at all) or a last label ending in `-`
    prev != b'.' && prev != b'-'
}

impl From<std::net::IpAddr> for Host {
    fn from(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(a) => Self::V4(a),
            std::net::IpAddr::V6(a) => Self::V6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_into(f)
    }
}

impl Host {
    /// Print into any writer; monomorphised, so printing into a message buffer does not go
    /// through the formatter's dynamic calls.
    fn write_into(&self, f: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Self::Domain(d) => f.write_str(d),
            Self::V4(a) => {
                let [a, b, c, d] = a.octets();
                fmt_decimal(f, a.into())?;
                for o in [b, c, d] {
                    f.write_char('.')?;
                    fmt_decimal(f, o.into())?;
                }
                Ok(())
            }
            Self::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// sip or sips.
    pub scheme: Scheme,
    /// User part with escapes as written, or `None`.
    pub user: Option<String>,
    /// Password as written (discouraged by RFC 3261 §19.1.1 but legal).
    pub password: Option<String>,
    /// Host.
    pub host: Host,
    /// Explicit port.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`), as written.
    pub params: Vec<Param>,
    /// URI headers (`?subject=x&priority=urgent`), as written without the `?`.
    pub headers: Option<String>,
}

impl SipUri {
    /// A plain `sip:user@host` URI.
    #[must_use]
    pub fn new(user: Option<&str>, host: Host, port: Option<u16>) -> Self {
        Self {
            scheme: Scheme::Sip,
            user: user.map(str::to_owned),
            password: None,
            host,
            port,
            params: Vec::new(),
            headers: None,
        }
    }

    /// The user part with `%` escapes decoded once.
    #[must_use]
    pub fn user_unescaped(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.user.as_deref().map(unescape)
    }

    /// A URI parameter by case-insensitive name.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The `transport` parameter, lower-cased.
    #[must_use]
    pub fn transport(&self) -> Option<String> {
        self.param("transport").and_then(|p| p.value.as_deref()).map(str::to_ascii_lowercase)
    }

    /// True if the URI has the `lr` parameter (loose routing, RFC 3261 §16.12).
    #[must_use]
    pub fn is_loose_route(&self) -> bool {
        self.param("lr").is_some()
    }

    fn parse_after_scheme(scheme: Scheme, s: &str) -> Result<Self, ParseError> {
        // One pass finds the delimiters and refuses whitespace and name-addr delimiters
        // (a search per delimiter was about a thousand instructions per URI).
        let (mut at, mut semi, mut query) = (None, None, None);
        for (i, &c) in s.as_bytes().iter().enumerate() {
            match c {
                b'@' if at.is_none() => {
                    // userinfo may hold `;` and `?`: only those after the first `@` count
                    at = Some(i);
                    (semi, query) = (None, None);
                }
                b';' if semi.is_none() && query.is_none() => semi = Some(i),
                b'?' if query.is_none() => query = Some(i),
                b'<' | b'>' | b'"' => return Err(ParseError::Uri("whitespace or delimiter inside URI")),
                c if c.is_ascii_whitespace() => return Err(ParseError::Uri("whitespace or delimiter inside URI")),
                _ => {}
            }
        }
        let (userinfo, host_from) = match at {
            Some(i) => (Some(&s[..i]), i + 1),
            None => (None, 0),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(ParseError::Uri("empty user part"));
                }
                if !u.bytes().all(is_user_char) {
                    return Err(ParseError::Uri("invalid character in user part"));
                }
                (Some(u.to_owned()), p.map(str::to_owned))
            }
        };
        let (params_end, headers) = match query {
            Some(q) => (q, Some(s[q + 1..].to_owned())),
            None => (s.len(), None),
        };
        let (hostport, params) = match semi {
            Some(i) => {
                (&s[host_from..i], parse_params(&s[i + 1..params_end]).ok_or(ParseError::Uri("bad URI parameter"))?)
            }
            None => (&s[host_from..params_end], Vec::new()),
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(Self { scheme, user, password, host, port, params, headers })
    }
}

/// Dotted-quad IPv4 as `Ipv4Addr`'s `FromStr` reads it (four decimal octets, no leading
/// zeros), on bytes: the standard parser was a few hundred instructions per address, and
/// every received Via and most URIs carry one.
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    // One pass, octets accumulated as the digits come (splitting on dots and checking
    // each piece was about 150 instructions per address): 1 to 3 digits, no leading zero.
    let mut octets = [0u8; 4];
    let (mut filled, mut value, mut digits) = (0, 0u16, 0);
    for &c in s.as_bytes() {
        if c == b'.' {
            if digits == 0 || filled == 3 {
                return None;
            }
            octets[filled] = u8::try_from(value).ok()?;
            (filled, value, digits) = (filled + 1, 0, 0);
        } else if c.is_ascii_digit() && digits < 3 && !(digits == 1 && value == 0) {
            value = value * 10 + u16::from(c - b'0');
            digits += 1;
        } else {
            return None;
        }
    }
    if digits == 0 || filled != 3 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

/// Split `host[:port]`, honouring IPv6 brackets.
pub(crate) fn split_host_port(s: &str) -> Result<(Host, Option<u16>), ParseError> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']').ok_or(ParseError::Uri("unclosed IPv6 reference"))?;
        let port = &s[end + 1..];
        let port = if port.is_empty() {
            None
        } else {
            Some(port.strip_prefix(':').ok_or(ParseError::Uri("junk after IPv6 reference"))?)
        };
        (&s[..=end], port)
    } else {
        // the port follows the last colon (a byte search: `rsplit_once` went through the
        // `char` searcher)
        match s.as_bytes().iter().rposition(|&c| c == b':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ParseError::Uri("bad port"));
            }
            Some(p.parse::<u16>().map_err(|_| ParseError::Uri("port out of range"))?)
        }
    };
    Ok((Host::parse(host)?, port))
}

fn is_user_char(c: u8) -> bool {
    USER_CHARS[usize::from(c)]
}

/// unreserved / escaped / user-unreserved (RFC 3261 §25.1); UTF-8 is not allowed. A table
/// built at compile time: it is asked for every byte of every user part.
static USER_CHARS: [bool; 256] = crate::text::alnum_and(b"-_.!~*'()%&=+$,;?/");

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_into(f)
    }
}

impl SipUri {
    /// Print into any writer (see [`Host`]'s): printing a Request-URI through
    /// `core::fmt::write` was about 1,250 instructions per request sent.
    fn write_into(&self, f: &mut impl fmt::Write) -> fmt::Result {
        f.write_str(match self.scheme {
            Scheme::Sip => "sip:",
            Scheme::Sips => "sips:",
        })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        self.host.write_into(f)?;
        if let Some(p) = self.port {
            f.write_char(':')?;
            fmt_decimal(f, u32::from(p))?;
        }
        fmt_params(f, &self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

/// A `tel:` URI (RFC 3966): the number as written plus parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// `+4543591000` or a local number; visual separators kept.
    pub number: String,
    /// Parameters such as `phone-context`.
    pub params: Vec<Param>,
}

impl TelUri {
    /// The number with visual separators (`-.()`) removed (RFC 3966 §5.1.1).
    #[must_use]
    pub fn digits(&self) -> String {
        self.number.chars().filter(|c| !"-.() ".contains(*c)).collect()
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tel:")?;
        f.write_str(&self.number)?;
        fmt_params(f, &self.params)
    }
}

impl Uri {
    /// The SIP URI, if this is one.
    #[must_use]
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Self::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The scheme as written, lower-cased.
    #[must_use]
    pub fn scheme(&self) -> &str {
        match self {
            Self::Sip(u) => match u.scheme {
                Scheme::Sip => "sip",
                Scheme::Sips => "sips",
            },
            Self::Tel(_) => "tel",
            Self::Other { scheme, .. } => scheme,
        }
    }
}

impl FromStr for Uri {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (scheme, rest) = s.split_once(':').ok_or(ParseError::Uri("no scheme"))?;
        let valid_scheme = scheme.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.bytes().all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c));
        if !valid_scheme {
            return Err(ParseError::Uri("bad scheme"));
        }
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_after_scheme(Scheme::Sip, rest).map(Self::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_after_scheme(Scheme::Sips, rest).map(Self::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            let (number, params) = match rest.split_once(';') {
                Some((n, p)) => (n, parse_params(p).ok_or(ParseError::Uri("bad tel parameter"))?),
                None => (rest, Vec::new()),
            };
            let ok = !number.is_empty() && number.bytes().all(|c| c.is_ascii_hexdigit() || b"+-.()*#".contains(&c));
            if !ok {
                return Err(ParseError::Uri("bad telephone number"));
            }
            Ok(Self::Tel(TelUri { number: number.to_owned(), params }))
        } else {
            if rest.is_empty() || rest.bytes().any(|c| c.is_ascii_whitespace() || c == b'<' || c == b'>') {
                return Err(ParseError::Uri("bad absolute URI"));
            }
            if !rest.bytes().all(|c| c >= 0x21 && c != 0x7f) {
                return Err(ParseError::Uri("control character in URI"));
            }
            Ok(Self::Other { scheme: scheme.to_owned(), rest: rest.to_owned() })
        }
    }
}

impl Uri {
    /// Print into any writer without the formatter's dynamic calls for `sip:`/`sips:`.
    pub fn write_into(&self, f: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Self::Sip(u) => u.write_into(f),
            other => write!(f, "{other}"),
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sip(u) => u.fmt(f),
            Self::Tel(t) => t.fmt(f),
            Self::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (userinfo, host-port, parameters, headers) of a URI after its scheme.
    type Pieces<'a> = (Option<&'a str>, &'a str, Option<&'a str>, Option<&'a str>);

    /// The search-per-delimiter split the one-pass scan replaced.
    fn split_by_searching(s: &str) -> Option<Pieces<'_>> {
        if s.bytes().any(|c| c.is_ascii_whitespace() || c == b'<' || c == b'>' || c == b'"') {
            return None;
        }
        let (userinfo, rest) = match s.find('@') {
            Some(i) => (Some(&s[..i]), &s[i + 1..]),
            None => (None, s),
        };
        let (hp_params, headers) = match rest.split_once('?') {
            Some((a, h)) => (a, Some(h)),
            None => (rest, None),
        };
        let (hostport, params) = match hp_params.split_once(';') {
            Some((hp, p)) => (hp, Some(p)),
            None => (hp_params, None),
        };
        Some((userinfo, hostport, params, headers))
    }

    #[test]
    fn writing_into_a_buffer_prints_as_display() {
        for text in [
            "sip:alice:secret@pbx.example:5061;transport=tcp;lr?subject=hi",
            "sips:[2001:db8::1]:5062",
            "sip:+4543591000@192.0.2.10;user=phone",
            "tel:+45-4359-1000;phone-context=+45",
            "urn:service:sos",
        ] {
            let uri: Uri = text.parse().expect("uri");
            let mut out = String::new();
            uri.write_into(&mut out).expect("written");
            assert_eq!(out, uri.to_string());
        }
    }

    proptest! {
        #[test]
        fn ipv4_reads_as_the_standard_parser_does(s in "[0-9.]{0,16}", a in any::<[u8; 4]>()) {
            prop_assert_eq!(parse_ipv4(&s), s.parse::<Ipv4Addr>().ok());
            let printed = Ipv4Addr::from(a).to_string();
            prop_assert_eq!(parse_ipv4(&printed), Some(Ipv4Addr::from(a)));
        }

        #[test]
        fn one_pass_hostname_check_agrees_with_label_splitting(s in "[a-c0-9.-]{0,12}") {
            // the grammar read label by label, as the check was written before
            let labels = |s: &str| s.strip_suffix('.').unwrap_or(s).split('.').all(|l| {
                !l.is_empty()
                    && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
            prop_assert_eq!(is_hostname(s.as_bytes()), labels(&s), "{}", s);
        }

        #[test]
        fn one_pass_split_agrees_with_searching(rest in "[a-c0-9@;?=:. <]{0,24}") {
            let expected = split_by_searching(&rest).map(|(user, hostport, params, headers)| {
                let user = user.map(|u| u.split_once(':').map_or(u, |(u, _)| u).to_owned());
                let params = params.map(parse_params);
                (user, hostport.to_owned(), params, headers.map(str::to_owned))
            });
            let parsed = SipUri::parse_after_scheme(Scheme::Sip, &rest);
            if let Ok(uri) = &parsed {
                let (user, hostport, params, headers) = expected.clone().expect("accepted by both");
                prop_assert_eq!(&uri.user, &user);
                prop_assert_eq!(split_host_port(&hostport).ok(), Some((uri.host.clone(), uri.port)));
                prop_assert_eq!(Some(uri.params.clone()), params.unwrap_or(Some(Vec::new())));
                prop_assert_eq!(&uri.headers, &headers);
            }
            if expected.is_none() {
                prop_assert!(parsed.is_err());
            }
        }
    }

    fn sip(s: &str) -> SipUri {
        match s.parse::<Uri>() {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parses_user_host_port_params_headers() {
        let u = sip("sip:alice:secret@example.com:5070;transport=TCP;lr?subject=hi&x=y");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::Domain("example.com".into()));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert!(u.is_loose_route());
        assert_eq!(u.headers.as_deref(), Some("subject=hi&x=y"));
    }

    #[test]
    fn ipv6_reference_with_port() {
        let u = sip("sips:[2001:db8::10]:5061");
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().expect("v6")));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.to_string(), "sips:[2001:db8::10]:5061");
    }

    #[test]
    fn user_part_may_hold_semicolons_and_escapes() {
        let u = sip("sip:+4543591000;phone-context=example.dk@gw.example.dk;user=phone");
        assert_eq!(u.user.as_deref(), Some("+4543591000;phone-context=example.dk"));
        assert_eq!(u.param("user").and_then(|p| p.value.as_deref()), Some("phone"));
        let e = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(e.user_unescaped().as_deref(), Some("sips:user@example.com"));
        // printing keeps the escapes: they are never decoded twice
        assert_eq!(e.to_string(), "sip:sips%3Auser%40example.com@example.net");
    }

    #[test]
    fn rejects_spaces_angle_brackets_and_bad_ports() {
        for bad in [
            "sip:user@example.com extra",
            "sip:<user@example.com>",
            "sip:user@example.com:99999",
            "sip:user@example.com:",
            "sip:@example.com",
            "sip:user@[::1",
            "sip:user@-bad-.com",
            // an empty label, even in a name that ends in a dot
            "sip:user@pbx..example.",
        ] {
            assert!(bad.parse::<Uri>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn tel_and_unknown_schemes() {
        match "tel:+45-43-59-10-00;phone-context=+45".parse::<Uri>() {
            Ok(Uri::Tel(t)) => assert_eq!(t.digits(), "+4543591000"),
            other => panic!("{other:?}"),
        }
        let u: Uri = "urn:service:sos".parse().expect("urn");
        assert_eq!(u.scheme(), "urn");
        assert_eq!(u.to_string(), "urn:service:sos");
    }

    #[test]
    fn uppercase_scheme_is_accepted() {
        assert_eq!(sip("SIP:a@b").scheme, Scheme::Sip);
    }
}
