//! Splitting on one ASCII byte. `str::split(char)` searches through the standard
//! library's character searcher, about 130 instructions per call on these short lines and
//! fields; SDP is read on every call's offer and answer.

/// As `s.split(sep)` for an ASCII `sep`.
pub(crate) fn split(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match split_once(r, sep) {
            Some((piece, after)) => {
                rest = Some(after);
                Some(piece)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// As `s.split_once(sep)` for an ASCII `sep`.
pub(crate) fn split_once(s: &str, sep: u8) -> Option<(&str, &str)> {
    debug_assert!(sep.is_ascii());
    let i = s.bytes().position(|b| b == sep)?;
    // `sep` is ASCII, so `i` and `i + 1` are character boundaries
    Some((&s[..i], &s[i + 1..]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn splits_as_the_standard_library_does(s in "[a ø/\\n]{0,16}", sep in prop::sample::select(vec![b' ', b'/', b'\n'])) {
            let std_split: Vec<&str> = s.split(char::from(sep)).collect();
            prop_assert_eq!(super::split(&s, sep).collect::<Vec<_>>(), std_split);
            prop_assert_eq!(super::split_once(&s, sep), s.split_once(char::from(sep)));
        }
    }
}
