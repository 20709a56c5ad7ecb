//! Keys sent in SIP INFO requests (`Content-Type: application/dtmf-relay`, the Cisco
//! format most phones use) and `application/dtmf` (a bare key):
//!
//! ```text
//! Signal=5
//! Duration=160
//! ```

use crate::Key;

/// A key from an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoKey {
    /// The key.
    pub key: Key,
    /// Duration in milliseconds, when given.
    pub duration_ms: Option<u32>,
}

/// An INFO body that carries no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfoError {
    /// No `Signal=` line.
    #[error("no Signal= in the dtmf-relay body")]
    NoSignal,
    /// A signal that is not a DTMF key.
    #[error("{0:?} is not a DTMF key")]
    NotAKey(String),
}

/// Parse an `application/dtmf-relay` body.
///
/// # Errors
/// No signal, or a signal that is not a key.
pub fn parse_dtmf_relay(body: &str) -> Result<InfoKey, InfoError> {
    let mut signal = None;
    let mut duration_ms = None;
    for line in body.lines() {
        let Some((name, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "signal" => signal = Some(value.to_owned()),
            "duration" => duration_ms = value.parse().ok(),
            _ => {}
        }
    }
    let signal = signal.ok_or(InfoError::NoSignal)?;
    Ok(InfoKey { key: key_of(&signal)?, duration_ms })
}

/// Parse an `application/dtmf` body (the key alone, or its RFC 4733 event code).
///
/// # Errors
/// Not a key.
pub fn parse_dtmf(body: &str) -> Result<InfoKey, InfoError> {
    Ok(InfoKey { key: key_of(body.trim())?, duration_ms: None })
}

fn key_of(signal: &str) -> Result<Key, InfoError> {
    let mut chars = signal.chars();
    let key = match (chars.next(), chars.next()) {
        (Some(c), None) => Key::from_char(c.to_ascii_uppercase()),
        // Some phones send the event code: 10 for *, 11 for #.
        _ => signal.parse::<u8>().ok().and_then(Key::from_event),
    };
    key.ok_or_else(|| InfoError::NotAKey(signal.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: char) -> Key {
        Key::from_char(c).expect("key")
    }

    #[test]
    fn cisco_style_bodies() {
        assert_eq!(
            parse_dtmf_relay("Signal=5\r\nDuration=160\r\n"),
            Ok(InfoKey { key: k('5'), duration_ms: Some(160) })
        );
        assert_eq!(parse_dtmf_relay("signal= #\nduration=250"), Ok(InfoKey { key: k('#'), duration_ms: Some(250) }));
        assert_eq!(parse_dtmf_relay("Signal=11\r\n").map(|i| i.key), Ok(k('#')), "event code for #");
        assert_eq!(parse_dtmf_relay("Signal=a").map(|i| i.key), Ok(k('A')));
        assert_eq!(parse_dtmf_relay("Duration=160"), Err(InfoError::NoSignal));
        assert_eq!(parse_dtmf_relay("Signal=x"), Err(InfoError::NotAKey("x".into())));
        assert_eq!(parse_dtmf_relay("Signal=17"), Err(InfoError::NotAKey("17".into())));
    }

    #[test]
    fn bare_key_bodies() {
        assert_eq!(parse_dtmf("7\r\n").map(|i| i.key), Ok(k('7')));
        assert_eq!(parse_dtmf("*").map(|i| i.key), Ok(k('*')));
        assert!(parse_dtmf("").is_err());
    }
}
