//! Personal data in logs. Phone numbers are personal data (DOMAIN.md §3): a value wrapped
//! in [`Pii`] prints with every digit but the last two masked, so a log line can say which
//! call it is about without carrying the number. `{:?}` masks too.

use std::fmt;

/// A value that must not reach a log in full.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pii<T>(pub T);

/// Mask all digits but the last two.
#[must_use]
pub fn mask(s: &str) -> String {
    let total = s.bytes().filter(u8::is_ascii_digit).count();
    let mut seen = 0;
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 2 > total { c } else { '*' }
            } else {
                c
            }
        })
        .collect()
}

impl<T: fmt::Display> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0.to_string()))
    }
}

impl<T: fmt::Display> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pii({})", mask(&self.0.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_last_two_digits() {
        assert_eq!(Pii("+45 43 59 10 00").to_string(), "+** ** ** ** 00");
        assert_eq!(format!("{:?}", Pii("sip:4543591000@x")), "Pii(sip:********00@x)");
        assert_eq!(Pii("anne").to_string(), "anne");
    }
}
