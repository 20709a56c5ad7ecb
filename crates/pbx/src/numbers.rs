//! Dialled numbers: normalising, classifying for toll-fraud rules, and route patterns.
//!
//! Classes follow the Danish numbering plan: 8-digit national numbers; `90` numbers are
//! premium rate (overtakserede); `112` and `114` are emergency and police; anything with
//! an international prefix other than +45 is international.

/// How a dialled number is charged, for toll-fraud rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberClass {
    /// 112, 114: always allowed where a route exists.
    Emergency,
    /// An ordinary Danish number.
    National,
    /// Danish premium rate (90xx xxxx).
    Premium,
    /// Outside Denmark.
    International,
    /// Anything else (short codes, malformed).
    Other,
}

/// Strip visual separators; keep a leading `+`.
#[must_use]
pub fn normalise(dialled: &str) -> String {
    let mut out = String::with_capacity(dialled.len());
    for (i, c) in dialled.chars().enumerate() {
        if c.is_ascii_digit() || (c == '+' && i == 0) || c == '*' || c == '#' {
            out.push(c);
        }
    }
    out
}

/// Classify a normalised number.
#[must_use]
pub fn classify(n: &str) -> NumberClass {
    let national = if let Some(rest) = n.strip_prefix("+45") {
        rest
    } else if let Some(rest) = n.strip_prefix("0045") {
        rest
    } else if n.starts_with('+') || n.starts_with("00") {
        return NumberClass::International;
    } else {
        n
    };
    match national {
        "112" | "114" => NumberClass::Emergency,
        _ if national.len() == 8 && national.bytes().all(|c| c.is_ascii_digit()) => {
            if national.starts_with("90") {
                NumberClass::Premium
            } else {
                NumberClass::National
            }
        }
        _ => NumberClass::Other,
    }
}

/// A dial pattern: digits match themselves, `X` any digit, `Z` 1–9, `N` 2–9, a final `.`
/// one or more of anything; `+` matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

/// Why a pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dial pattern {0:?}: use digits, X, Z, N, + and a final .")]
pub struct PatternError(pub String);

impl Pattern {
    /// Parse a pattern.
    pub fn parse(s: &str) -> Result<Self, PatternError> {
        let body = s.strip_suffix('.').unwrap_or(s);
        let ok = !s.is_empty()
            && body
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || matches!(c, 'X' | 'Z' | 'N' | '*' | '#') || (c == '+' && i == 0));
        if ok { Ok(Self(s.to_owned())) } else { Err(PatternError(s.to_owned())) }
    }

    /// Does `n` match?
    #[must_use]
    pub fn matches(&self, n: &str) -> bool {
        let (body, rest_any) = match self.0.strip_suffix('.') {
            Some(b) => (b, true),
            None => (self.0.as_str(), false),
        };
        let pc: Vec<char> = body.chars().collect();
        let nc: Vec<char> = n.chars().collect();
        if nc.len() < pc.len() || (!rest_any && nc.len() != pc.len()) || (rest_any && nc.len() == pc.len()) {
            return false;
        }
        pc.iter().zip(&nc).all(|(p, c)| match p {
            'X' => c.is_ascii_digit(),
            'Z' => ('1'..='9').contains(c),
            'N' => ('2'..='9').contains(c),
            _ => p == c,
        })
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify("43591000"), NumberClass::National);
        assert_eq!(classify("+4543591000"), NumberClass::National);
        assert_eq!(classify("004543591000"), NumberClass::National);
        assert_eq!(classify("90909090"), NumberClass::Premium);
        assert_eq!(classify("+4690909090"), NumberClass::International);
        assert_eq!(classify("0046701234567"), NumberClass::International);
        assert_eq!(classify("112"), NumberClass::Emergency);
        assert_eq!(classify("1234"), NumberClass::Other);
        assert_eq!(normalise("+45 43 59-10 00"), "+4543591000");
    }

    #[test]
    fn patterns() {
        let p = Pattern::parse("NXXXXXXX").expect("p");
        assert!(p.matches("43591000"));
        assert!(!p.matches("03591000"));
        assert!(!p.matches("4359100"));
        let any = Pattern::parse("00.").expect("p");
        assert!(any.matches("0046123"));
        assert!(!any.matches("00"));
        assert!(Pattern::parse("+45XXXXXXXX").expect("p").matches("+4543591000"));
        assert!(Pattern::parse("4a").is_err());
        assert!(Pattern::parse("").is_err());
    }
}
