//! HTTP Digest for SIP (RFC 3261 §22, RFC 7616, RFC 8760): server-side challenge and
//! verification, and the client-side answer for trunks.
//!
//! Nonces are self-authenticating: `hex(issued_secs) . hex(random) . hex(mac)`, where the
//! MAC is SHA-256 over a per-process secret. A nonce is stale after its lifetime; each
//! nonce's highest nonce-count is remembered until it expires, so a replayed or reused
//! count is refused (RFC 7616 §3.3). Unknown users get the very same challenge as wrong
//! passwords, after the same amount of hashing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::rng::IdGen;

/// Digest algorithms we offer, in preference order (RFC 8760 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-256 (RFC 7616).
    Sha256,
    /// MD5 (RFC 2617; still what most phones speak).
    Md5,
}

impl Algorithm {
    /// Token in challenges.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Md5 => "MD5",
        }
    }

    /// Parse an `algorithm=` token.
    #[must_use]
    pub fn from_token(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("SHA-256") {
            Some(Self::Sha256)
        } else if s.eq_ignore_ascii_case("MD5") {
            Some(Self::Md5)
        } else {
            None
        }
    }

    /// Hex digest of `data`.
    #[must_use]
    pub fn hash_hex(self, data: &[u8]) -> String {
        self.hash_joined(&[data])
    }

    /// Hex digest of `parts` joined by `:`, fed to the hash piece by piece (the joined
    /// string was a `format!` per hash, two per checked request).
    #[must_use]
    pub fn hash_joined(self, parts: &[&[u8]]) -> String {
        hex_lower(self.hash_raw(parts).as_slice())
    }

    /// The digest's bytes of `parts` joined by `:`.
    fn hash_raw(self, parts: &[&[u8]]) -> RawDigest {
        fn feed<D: Digest>(mut h: D, parts: &[&[u8]]) -> RawDigest {
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    h.update(b":");
                }
                h.update(p);
            }
            RawDigest::from_slice(&h.finalize())
        }
        match self {
            Self::Md5 => feed(Md5::new(), parts),
            Self::Sha256 => feed(Sha256::new(), parts),
        }
    }
}

/// A digest's bytes (16 for MD5, 32 for SHA-256), kept on the stack.
struct RawDigest {
    bytes: [u8; 32],
    len: usize,
}

impl RawDigest {
    fn from_slice(b: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let len = b.len().min(32);
        bytes[..len].copy_from_slice(&b[..len]);
        Self { bytes, len }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Whether `hex` (either case) spells exactly `bytes`, compared in constant time once
/// decoded: a check decodes the client's hex instead of encoding its own digest (an
/// allocation and a lower-casing copy per authenticated request).
fn hex_spells(hex: &str, bytes: &[u8]) -> bool {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let (hex, len) = (hex.as_bytes(), bytes.len());
    if len > 32 || hex.len() != 2 * len {
        return false;
    }
    let mut decoded = [0u8; 32];
    for (d, pair) in decoded.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else { return false };
        *d = hi << 4 | lo;
    }
    bool::from(decoded[..len].ct_eq(bytes))
}

/// Lower-case hex of `bytes`, into a string of the right size (`hex::encode` collected
/// characters one by one, growing the string).
fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        crate::rng::push_hex(&mut out, u64::from(b), 2);
    }
    out
}

/// A user's precomputed HA1 values (`H(username:realm:password)`), built once at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// HA1 with MD5.
    pub ha1_md5: String,
    /// HA1 with SHA-256.
    pub ha1_sha256: String,
}

impl Credentials {
    /// Compute both HA1 values from a password.
    #[must_use]
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        let a1 = format!("{username}:{realm}:{password}");
        Self { ha1_md5: Algorithm::Md5.hash_hex(a1.as_bytes()), ha1_sha256: Algorithm::Sha256.hash_hex(a1.as_bytes()) }
    }

    fn ha1(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Parsed `Digest` credentials from an Authorization header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestResponse<'a> {
    /// username
    pub username: Cow<'a, str>,
    /// realm
    pub realm: Cow<'a, str>,
    /// nonce
    pub nonce: Cow<'a, str>,
    /// digest-uri
    pub uri: Cow<'a, str>,
    /// response
    pub response: Cow<'a, str>,
    /// algorithm (MD5 when absent)
    pub algorithm: Option<Cow<'a, str>>,
    /// cnonce
    pub cnonce: Option<Cow<'a, str>>,
    /// qop
    pub qop: Option<Cow<'a, str>>,
    /// nonce-count, 8 hex digits
    pub nc: Option<Cow<'a, str>>,
    /// opaque
    pub opaque: Option<Cow<'a, str>>,
}

/// Why an Authorization header could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// Not the Digest scheme (RFC 4475 §3.3.7: answer with a new challenge).
    #[error("authorization scheme is not Digest")]
    NotDigest,
    /// A required parameter is missing.
    #[error("digest parameter {0} missing")]
    Missing(&'static str),
    /// A parameter is malformed.
    #[error("malformed digest parameter list")]
    Malformed,
}

/// Parse `Digest k=v, k="v", ...`.
/// The values are borrowed from `value` unless they hold escapes.
pub fn parse_authorization(value: &str) -> Result<DigestResponse<'_>, DigestParseError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once([' ', '\t']).ok_or(DigestParseError::NotDigest)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(DigestParseError::NotDigest);
    }
    let params = parse_auth_params(rest).ok_or(DigestParseError::Malformed)?;
    // One pass over the parameters; the first of a repeated name counts.
    let mut slots: [Option<Cow<'_, str>>; 10] = Default::default();
    for (name, value) in params {
        let Some(i) = DIGEST_PARAMS.iter().position(|k| k.eq_ignore_ascii_case(name)) else { continue };
        if slots[i].is_none() {
            slots[i] = Some(value);
        }
    }
    let [username, realm, nonce, uri, response, algorithm, cnonce, qop, nc, opaque] = slots;
    Ok(DigestResponse {
        username: username.ok_or(DigestParseError::Missing("username"))?,
        realm: realm.ok_or(DigestParseError::Missing("realm"))?,
        nonce: nonce.ok_or(DigestParseError::Missing("nonce"))?,
        uri: uri.ok_or(DigestParseError::Missing("uri"))?,
        response: response.ok_or(DigestParseError::Missing("response"))?,
        algorithm,
        cnonce,
        qop,
        nc,
        opaque,
    })
}

/// The parameters of a digest response, in the order of [`parse_authorization`]'s slots.
const DIGEST_PARAMS: [&str; 10] =
    ["username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "qop", "nc", "opaque"];

/// `name=value` pairs separated by commas; values may be quoted (borrowed unless they
/// hold escapes).
pub fn parse_auth_params(s: &str) -> Option<Vec<(&str, Cow<'_, str>)>> {
    // One pass over the bytes (splitting on commas and then trimming and searching each
    // piece cost about 900 instructions per parameter).
    let b = s.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut out = Vec::with_capacity(10);
    let mut i = 0;
    loop {
        // empty items between commas are allowed (RFC 7230 §7 list rule)
        loop {
            i = skip_ws(i);
            if b.get(i) != Some(&b',') {
                break;
            }
            i += 1;
        }
        if i == b.len() {
            return Some(out);
        }
        let name_start = i;
        while i < b.len() && sip_msg::text::is_token_char(b[i]) {
            i += 1;
        }
        let name = &s[name_start..i];
        i = skip_ws(i);
        if name.is_empty() || b.get(i) != Some(&b'=') {
            return None;
        }
        i = skip_ws(i + 1);
        let value = if b.get(i) == Some(&b'"') {
            let (q, rest) = sip_msg::text::parse_quoted(&s[i..])?;
            i = s.len() - rest.len();
            q
        } else {
            // RFC 7616 §3.4: a value is a token or a quoted-string
            let start = i;
            while i < b.len() && sip_msg::text::is_token_char(b[i]) {
                i += 1;
            }
            if i == start {
                return None;
            }
            Cow::Borrowed(&s[start..i])
        };
        out.push((name, value));
        i = skip_ws(i);
        match b.get(i) {
            None => return Some(out),
            Some(b',') => i += 1,
            Some(_) => return None,
        }
    }
}

/// Outcome of checking a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are right; `username` is authenticated.
    Authorized {
        /// Who.
        username: String,
    },
    /// Send a challenge. `stale` when only the nonce was too old (RFC 7616 §3.3);
    /// `failed` when credentials were offered and were wrong (counts towards the limit).
    Challenge {
        /// The nonce expired but the password was right.
        stale: bool,
        /// Wrong credentials were offered.
        failed: bool,
    },
    /// Too many failures from this source: 403 without a challenge until the block ends.
    Blocked,
}

/// Limits for the authenticator.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Realm in challenges.
    pub realm: String,
    /// How long a nonce is fresh.
    pub nonce_ttl: Duration,
    /// Failed attempts from one address allowed within `failure_window`.
    pub max_failures: u32,
    /// Window for counting failures.
    pub failure_window: Duration,
    /// How long an address stays blocked.
    pub block_for: Duration,
    /// Algorithms offered, in the order challenges list them. Many clients answer only
    /// the first challenge (SIPp 3.6.1 aborts on a leading SHA-256), so the order is a
    /// deployment choice.
    pub algorithms: Vec<Algorithm>,
}

impl AuthConfig {
    /// Defaults: 5 minute nonces, 10 failures per minute, then 5 minutes blocked.
    #[must_use]
    pub fn new(realm: &str) -> Self {
        Self {
            realm: realm.to_owned(),
            nonce_ttl: Duration::from_secs(300),
            max_failures: 10,
            failure_window: Duration::from_secs(60),
            block_for: Duration::from_secs(300),
            algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
            // (the server's default config narrows this to MD5; see ARCHITECTURE.md)
        }
    }
}

#[derive(Debug)]
struct Failures {
    count: u32,
    since: Instant,
    blocked_until: Option<Instant>,
}

/// Names a nonce we issued: seconds since the authenticator's epoch and the random part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct NonceId {
    issued: u64,
    rand: u64,
}

/// Server-side digest authenticator.
#[derive(Debug)]
pub struct Authenticator {
    cfg: AuthConfig,
    secret: [u8; 32],
    epoch: Instant,
    ids: IdGen,
    /// Highest nonce-count seen per nonce, with the nonce's expiry. Only nonces whose
    /// MAC checked (ones we issued) get here, so a nonce is named by its issue time and
    /// random part: a fixed-size key, where the whole nonce text was an allocation per
    /// authenticated request, kept for the nonce's lifetime (five minutes).
    counts: crate::fastmap::FastMap<NonceId, (u32, Instant)>,
    /// The nonces in `counts` in the order they came, with their expiry. Every nonce lives
    /// as long, so the front expires first and the sweep takes only what has expired (one
    /// issued earlier but first used later waits behind the others a moment longer). A
    /// `retain` over all of them, 300,000 at 1,000 calls/s, held the SIP thread about half
    /// a millisecond once a second.
    /// In blocks (`crate::fifo`): at 1,000 calls/s it holds 300,000.
    expiring: crate::fifo::Fifo<(Instant, NonceId), 2048>,
    failures: HashMap<IpAddr, Failures>,
    last_sweep: Instant,
    dummy: Credentials,
    /// The last `H(method:uri)`: phones registering send the same REGISTER URI every
    /// time, so the second hash of each check is usually this one.
    ha2: Option<Ha2>,
}

/// `H(method:digest-uri)` for one algorithm, method and URI.
#[derive(Debug)]
struct Ha2 {
    alg: Algorithm,
    method: String,
    uri: String,
    hex: String,
}

impl Authenticator {
    /// An authenticator with a secret (from the OS in the server, fixed in tests) and a
    /// time origin for nonce timestamps.
    #[must_use]
    pub fn new(cfg: AuthConfig, secret: [u8; 32], epoch: Instant) -> Self {
        let seed = u64::from_le_bytes([
            secret[0], secret[1], secret[2], secret[3], secret[4], secret[5], secret[6], secret[7],
        ]);
        let dummy = Credentials::from_password("\u{0}", &cfg.realm, "\u{0}");
        Self {
            cfg,
            secret,
            epoch,
            ids: IdGen::new(seed ^ 0x5eed),
            counts: crate::fastmap::FastMap::default(),
            expiring: crate::fifo::Fifo::default(),
            failures: HashMap::new(),
            last_sweep: epoch,
            dummy,
            ha2: None,
        }
    }

    /// Make room for `nonces` nonces in use at once, so the nonce-count table is sized at
    /// start and not by doublings under load.
    pub fn reserve(&mut self, nonces: usize) {
        self.counts.reserve(nonces.saturating_sub(self.counts.len()));
    }

    /// The realm.
    #[must_use]
    pub fn realm(&self) -> &str {
        &self.cfg.realm
    }

    /// WWW-Authenticate / Proxy-Authenticate values, one per configured algorithm, all
    /// with the same nonce.
    pub fn challenges(&mut self, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.make_nonce(now);
        self.cfg
            .algorithms
            .iter()
            .map(|alg| {
                let mut s = String::with_capacity(96 + self.cfg.realm.len());
                for part in ["Digest realm=\"", &self.cfg.realm, "\", nonce=\"", &nonce, "\", algorithm=", alg.token()]
                {
                    s.push_str(part);
                }
                s.push_str(", qop=\"auth\"");
                if stale {
                    s.push_str(", stale=true");
                }
                s
            })
            .collect()
    }

    /// The nonce's MAC: the first 12 bytes of SHA-256 over the secret and the nonce's
    /// issue time and random part.
    fn mac(&self, issued: u64, rand: u64) -> [u8; 12] {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(issued.to_be_bytes());
        h.update(rand.to_be_bytes());
        let mut mac = [0u8; 12];
        mac.copy_from_slice(&h.finalize()[..12]);
        mac
    }

    fn make_nonce(&mut self, now: Instant) -> String {
        let issued = now.saturating_duration_since(self.epoch).as_secs();
        let rand = self.ids.next_u64();
        let mut nonce = String::with_capacity(12 + 16 + 24);
        crate::rng::push_hex(&mut nonce, issued, 12);
        crate::rng::push_hex(&mut nonce, rand, 16);
        for b in self.mac(issued, rand) {
            crate::rng::push_hex(&mut nonce, u64::from(b), 2);
        }
        nonce
    }

    /// The nonce's issue time and random part, if its MAC shows we issued it.
    fn check_nonce(&self, nonce: &str) -> Option<NonceId> {
        if nonce.len() != 12 + 16 + 24 || !nonce.is_ascii() {
            return None;
        }
        let issued = u64::from_str_radix(&nonce[..12], 16).ok()?;
        let rand = u64::from_str_radix(&nonce[12..28], 16).ok()?;
        hex_spells(&nonce[28..], &self.mac(issued, rand)).then_some(NonceId { issued, rand })
    }

    /// Check the credentials of a request from `source` against `lookup`.
    pub fn verify<'c>(
        &mut self,
        now: Instant,
        source: IpAddr,
        method: &str,
        authorization: Option<&str>,
        lookup: impl Fn(&str) -> Option<&'c Credentials>,
    ) -> AuthOutcome {
        self.sweep(now);
        if let Some(f) = self.failures.get(&source)
            && f.blocked_until.is_some_and(|t| now < t)
        {
            return AuthOutcome::Blocked;
        }
        let Some(value) = authorization else {
            return AuthOutcome::Challenge { stale: false, failed: false };
        };
        let Ok(d) = parse_authorization(value) else {
            return self.fail(now, source);
        };
        let Some(alg) =
            Algorithm::from_token(d.algorithm.as_deref().unwrap_or("MD5")).filter(|a| self.cfg.algorithms.contains(a))
        else {
            return self.fail(now, source);
        };
        if d.realm != self.cfg.realm {
            return AuthOutcome::Challenge { stale: false, failed: false };
        }
        let Some(nonce_id) = self.check_nonce(&d.nonce) else {
            // not our nonce (or from before a restart): a fresh challenge, not a failure
            return AuthOutcome::Challenge { stale: true, failed: false };
        };
        let (Some(qop), Some(nc), Some(cnonce)) = (&d.qop, &d.nc, &d.cnonce) else {
            return self.fail(now, source);
        };
        if !qop.eq_ignore_ascii_case("auth") || nc.len() != 8 {
            return self.fail(now, source);
        }
        let Ok(nc_val) = u32::from_str_radix(nc, 16) else {
            return self.fail(now, source);
        };
        // Hash even for unknown users so timing does not tell which users exist.
        let known = lookup(&d.username);
        match &self.ha2 {
            Some(c) if c.alg == alg && c.method == method && c.uri == d.uri => {}
            _ => {
                let hex = alg.hash_joined(&[method.as_bytes(), d.uri.as_bytes()]);
                self.ha2 = Some(Ha2 { alg, method: method.to_owned(), uri: d.uri.to_string(), hex });
            }
        }
        let ha2 = self.ha2.as_ref().map_or("", |c| c.hex.as_str());
        let creds = known.unwrap_or(&self.dummy);
        let expected = alg.hash_raw(&[
            creds.ha1(alg).as_bytes(),
            d.nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            qop.as_bytes(),
            ha2.as_bytes(),
        ]);
        let right = hex_spells(&d.response, expected.as_slice());
        if !right || known.is_none() {
            return self.fail(now, source);
        }
        let expires = self.epoch + Duration::from_secs(nonce_id.issued) + self.cfg.nonce_ttl;
        if now >= expires {
            return AuthOutcome::Challenge { stale: true, failed: false };
        }
        let entry = match self.counts.entry(nonce_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                self.expiring.push_back((expires, nonce_id));
                new.insert((0, expires))
            }
        };
        if nc_val <= entry.0 {
            // replayed request or reused count
            return self.fail(now, source);
        }
        entry.0 = nc_val;
        self.failures.remove(&source);
        AuthOutcome::Authorized { username: d.username.into_owned() }
    }

    fn fail(&mut self, now: Instant, source: IpAddr) -> AuthOutcome {
        let window = self.cfg.failure_window;
        let f = self.failures.entry(source).or_insert(Failures { count: 0, since: now, blocked_until: None });
        if now.saturating_duration_since(f.since) > window {
            f.count = 0;
            f.since = now;
        }
        f.count += 1;
        if f.count >= self.cfg.max_failures {
            f.blocked_until = Some(now + self.cfg.block_for);
        }
        AuthOutcome::Challenge { stale: false, failed: true }
    }

    /// Drop expired nonce counts, and old failure records (those at most once a second).
    fn sweep(&mut self, now: Instant) {
        while let Some(&(expires, id)) = self.expiring.front()
            && expires <= now
        {
            self.expiring.pop_front();
            self.counts.remove(&id);
        }
        if now.saturating_duration_since(self.last_sweep) < Duration::from_secs(1) {
            return;
        }
        self.last_sweep = now;
        let window = self.cfg.failure_window;
        self.failures.retain(|_, f| {
            f.blocked_until.is_some_and(|t| t > now) || now.saturating_duration_since(f.since) <= window
        });
    }

    /// Remembered nonces (for tests and metrics).
    #[must_use]
    pub fn tracked_nonces(&self) -> usize {
        self.counts.len()
    }
}

/// Answer a challenge as a client (trunk registration, test tools). `nc` counts from 1.
#[must_use]
pub fn answer_challenge(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Option<String> {
    let rest = challenge.trim().strip_prefix("Digest")?.trim();
    let params = parse_auth_params(rest)?;
    let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_ref());
    let realm = get("realm")?;
    let nonce = get("nonce")?;
    let alg = Algorithm::from_token(get("algorithm").unwrap_or("MD5"))?;
    let ha1 = alg.hash_hex(format!("{username}:{realm}:{password}").as_bytes());
    let ha2 = alg.hash_hex(format!("{method}:{uri}").as_bytes());
    let qop_auth = get("qop").is_some_and(|q| q.split(',').any(|x| x.trim().eq_ignore_ascii_case("auth")));
    let mut out = format!(
        "Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm={}",
        alg.token()
    );
    if qop_auth {
        let nc = format!("{nc:08x}");
        let resp = alg.hash_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}").as_bytes());
        let _ = write!(out, ", response=\"{resp}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
    } else {
        let resp = alg.hash_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes());
        let _ = write!(out, ", response=\"{resp}\"");
    }
    if let Some(o) = get("opaque") {
        let _ = write!(out, ", opaque=\"{o}\"");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The split-then-check reading the one-pass `parse_auth_params` replaced.
    fn auth_params_by_splitting(s: &str) -> Option<Vec<(&str, Cow<'_, str>)>> {
        let mut out = Vec::new();
        for item in sip_msg::text::split_commas(s) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (n, v) = item.split_once('=')?;
            let (n, v) = (n.trim(), v.trim());
            let v = if v.starts_with('"') {
                let (q, rest) = sip_msg::text::parse_quoted(v)?;
                if !rest.trim().is_empty() {
                    return None;
                }
                q
            } else {
                Cow::Borrowed(v)
            };
            if !sip_msg::text::is_token(n) {
                return None;
            }
            out.push((n, v));
        }
        Some(out)
    }

    proptest! {
        /// The scanner is never more lenient than the old reading and reads the same
        /// pairs; it refuses only unquoted values that are not tokens (RFC 7616 §3.4).
        #[test]
        fn auth_params_scanner_agrees_with_splitting(value in "[a-z =,\t\"\\\\]{0,30}") {
            let old = auth_params_by_splitting(&value);
            match parse_auth_params(&value) {
                Some(new) => prop_assert_eq!(Some(new), old),
                None => {
                    let token_values = old.as_ref().is_some_and(|pairs| {
                        let raw = |v: &str| value.contains(&format!("={v}")) || value.contains(&format!("= {v}"));
                        pairs.iter().all(|(_, v)| sip_msg::text::is_token(v) && raw(v))
                    });
                    prop_assert!(!token_values, "refused a list of token values: {:?}", old);
                }
            }
        }
    }

    #[test]
    fn hex_is_read_back_in_either_case_and_only_whole() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff];
        for spelled in ["000fa5ff", "000FA5FF", "000fA5fF"] {
            assert!(hex_spells(spelled, &bytes), "{spelled}");
        }
        for wrong in ["000fa5fe", "000fa5f", "000fa5fff", "000fa5fg", "", "000fa5ff00", " 00fa5ff"] {
            assert!(!hex_spells(wrong, &bytes), "{wrong:?}");
        }
        let md5 = Algorithm::Md5.hash_raw(&[b"a", b"b"]);
        assert!(hex_spells(&Algorithm::Md5.hash_hex(b"a:b"), md5.as_slice()));
        assert_eq!(md5.as_slice().len(), 16);
        assert_eq!(Algorithm::Sha256.hash_raw(&[b"x"]).as_slice().len(), 32);
    }

    #[test]
    fn hashes_print_as_lower_hex() {
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        // RFC 1321 §A.5 and FIPS 180-2 test vectors
        assert_eq!(Algorithm::Md5.hash_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(Algorithm::Sha256.hash_joined(&[b"a", b"c"]), Algorithm::Sha256.hash_hex(b"a:c"),);
        assert_eq!(
            Algorithm::Sha256.hash_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn auth_params_scanner_reads_a_real_header() {
        let v = r#"username="alice", realm="kommune.example",nonce="abc", uri="sip:x@y" ,response="0f", qop=auth, nc=00000001, cnonce="c\"1""#;
        let got = parse_auth_params(v).expect("parsed");
        let names: Vec<&str> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce"]);
        assert_eq!(got[5].1, "auth");
        assert_eq!(got[7].1, "c\"1");
        for bad in ["a", "=b", "a=\"open", "a=\"x\" y", "a b=c"] {
            assert_eq!(parse_auth_params(bad), None, "{bad:?} accepted");
        }
    }

    fn setup() -> (Authenticator, Instant) {
        let t0 = Instant::now();
        (Authenticator::new(AuthConfig::new("kommune.example"), [7; 32], t0), t0)
    }

    fn lookup(u: &str) -> Option<&'static Credentials> {
        static ANNE: std::sync::OnceLock<Credentials> = std::sync::OnceLock::new();
        (u == "anne").then(|| ANNE.get_or_init(|| Credentials::from_password("anne", "kommune.example", "hemmelig")))
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn rfc7616_md5_vector_and_sha256_shape() {
        // RFC 7616 §3.9.1 example (qop=auth, MD5)
        let ch = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let a = answer_challenge(
            ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        )
        .expect("answer");
        assert!(a.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""), "{a}");
        let ch = ch.replace("MD5", "SHA-256");
        let a = answer_challenge(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        )
        .expect("answer");
        assert!(a.contains("response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""), "{a}");
    }

    fn answer(auth: &mut Authenticator, now: Instant, alg_index: usize, user: &str, pw: &str, nc: u32) -> String {
        let ch = auth.challenges(now, false)[alg_index].clone();
        answer_challenge(&ch, "REGISTER", "sip:kommune.example", user, pw, "abc", nc).expect("answer")
    }

    #[test]
    fn right_password_authorizes_with_md5_and_sha256() {
        let (mut a, t0) = setup();
        for i in 0..2 {
            let h = answer(&mut a, t0, i, "anne", "hemmelig", 1);
            assert_eq!(
                a.verify(t0, IP, "REGISTER", Some(&h), lookup),
                AuthOutcome::Authorized { username: "anne".into() }
            );
        }
    }

    #[test]
    fn each_check_hashes_its_own_method_and_uri_whatever_the_one_before() {
        let (mut a, t0) = setup();
        // each differs from the one before in one of algorithm, method or URI: the
        // remembered H(method:uri) of the check before must never stand in for this one's
        let checks = [
            ("REGISTER", "sip:kommune.example", 0),
            ("REGISTER", "sip:kommune.example", 1),
            ("INVITE", "sip:kommune.example", 1),
            ("INVITE", "sip:1002@kommune.example", 1),
            ("INVITE", "sip:1002@kommune.example", 0),
            ("REGISTER", "sip:kommune.example", 0),
        ];
        for (nc, (method, uri, alg)) in (1..).zip(checks) {
            let ch = a.challenges(t0, false)[alg].clone();
            let right = answer_challenge(&ch, method, uri, "anne", "hemmelig", "c", nc).expect("answer");
            assert_eq!(
                a.verify(t0, IP, method, Some(&right), lookup),
                AuthOutcome::Authorized { username: "anne".into() },
                "{method} {uri} ({alg})"
            );
        }
        // and credentials for one method fail on the other, right after a check of it
        let ch = a.challenges(t0, false)[0].clone();
        let register = answer_challenge(&ch, "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", 1);
        let register = register.expect("answer");
        assert_eq!(
            a.verify(t0, IP, "INVITE", Some(&register), lookup),
            AuthOutcome::Challenge { stale: false, failed: true }
        );
    }

    #[test]
    fn unknown_user_and_wrong_password_look_the_same() {
        let (mut a, t0) = setup();
        let wrong = answer(&mut a, t0, 0, "anne", "forkert", 1);
        let unknown = answer(&mut a, t0, 0, "nobody", "hemmelig", 1);
        let w = a.verify(t0, IP, "REGISTER", Some(&wrong), lookup);
        let u = a.verify(t0, IP, "REGISTER", Some(&unknown), lookup);
        assert_eq!(w, u);
        assert_eq!(w, AuthOutcome::Challenge { stale: false, failed: true });
    }

    #[test]
    fn replayed_nonce_count_is_refused_and_nc_must_grow() {
        let (mut a, t0) = setup();
        let ch = a.challenges(t0, false)[1].clone();
        let h1 = answer_challenge(&ch, "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", 1).expect("a");
        assert!(matches!(a.verify(t0, IP, "REGISTER", Some(&h1), lookup), AuthOutcome::Authorized { .. }));
        assert!(matches!(a.verify(t0, IP, "REGISTER", Some(&h1), lookup), AuthOutcome::Challenge { failed: true, .. }));
        // counts beyond 9 (hex 0000000a, 00000010) keep working: rsipstack failed at nc >= 10
        for nc in [2, 9, 10, 16, 255] {
            let h = answer_challenge(&ch, "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", nc).expect("a");
            assert!(
                matches!(a.verify(t0, IP, "REGISTER", Some(&h), lookup), AuthOutcome::Authorized { .. }),
                "nc {nc}"
            );
        }
    }

    #[test]
    fn each_nonce_keeps_its_own_count_and_expired_ones_are_forgotten() {
        let (mut a, t0) = setup();
        // two nonces issued in the same second: a count used on one is free on the other
        let first = a.challenges(t0, false)[1].clone();
        let second = a.challenges(t0, false)[1].clone();
        for ch in [&first, &second] {
            let h = answer_challenge(ch, "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", 1).expect("a");
            assert!(matches!(a.verify(t0, IP, "REGISTER", Some(&h), lookup), AuthOutcome::Authorized { .. }));
        }
        assert_eq!(a.tracked_nonces(), 2);
        let h = answer_challenge(&first, "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", 1).expect("a");
        assert!(matches!(a.verify(t0, IP, "REGISTER", Some(&h), lookup), AuthOutcome::Challenge { failed: true, .. }));
        // past the nonces' lifetime the counts are swept
        let later = t0 + Duration::from_secs(302);
        let _ = a.verify(later, IP, "REGISTER", None, lookup);
        assert_eq!(a.tracked_nonces(), 0);
    }

    #[test]
    fn nonce_counts_are_forgotten_each_as_it_expires() {
        let (mut a, t0) = setup();
        let ttl = AuthConfig::new("kommune.example").nonce_ttl;
        // nonces issued ten seconds apart, each used once
        for i in 0..3u64 {
            let at = t0 + Duration::from_secs(10 * i);
            let h = answer(&mut a, at, 1, "anne", "hemmelig", 1);
            assert!(matches!(a.verify(at, IP, "REGISTER", Some(&h), lookup), AuthOutcome::Authorized { .. }));
        }
        assert_eq!(a.tracked_nonces(), 3);
        // just before the first expires all are kept; just after, only the first is gone
        let _ = a.verify(t0 + ttl - Duration::from_secs(1), IP, "REGISTER", None, lookup);
        assert_eq!(a.tracked_nonces(), 3);
        let _ = a.verify(t0 + ttl + Duration::from_secs(1), IP, "REGISTER", None, lookup);
        assert_eq!(a.tracked_nonces(), 2);
        let _ = a.verify(t0 + ttl + Duration::from_secs(11), IP, "REGISTER", None, lookup);
        assert_eq!(a.tracked_nonces(), 1);
        // a nonce issued before another but first used after it still goes, with the one
        // ahead of it (the last of the three went at this check: it expired just now)
        let early = a.challenges(t0 + ttl + Duration::from_secs(12), false)[1].clone();
        let late_use = t0 + ttl + Duration::from_secs(20);
        let h = answer(&mut a, late_use, 1, "anne", "hemmelig", 1);
        assert!(matches!(a.verify(late_use, IP, "REGISTER", Some(&h), lookup), AuthOutcome::Authorized { .. }));
        let h = answer_challenge(&early, "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", 1).expect("a");
        assert!(matches!(a.verify(late_use, IP, "REGISTER", Some(&h), lookup), AuthOutcome::Authorized { .. }));
        assert_eq!(a.tracked_nonces(), 2);
        let _ = a.verify(late_use + ttl + Duration::from_secs(1), IP, "REGISTER", None, lookup);
        assert_eq!(a.tracked_nonces(), 0);
    }

    #[test]
    fn expired_nonce_is_stale_not_a_failure() {
        let (mut a, t0) = setup();
        let h = answer(&mut a, t0, 0, "anne", "hemmelig", 1);
        let later = t0 + Duration::from_secs(301);
        assert_eq!(
            a.verify(later, IP, "REGISTER", Some(&h), lookup),
            AuthOutcome::Challenge { stale: true, failed: false }
        );
        // a forged nonce is treated like one from before a restart
        let forged = h.replace("nonce=\"", "nonce=\"0");
        assert!(matches!(
            a.verify(t0, IP, "REGISTER", Some(&forged), lookup),
            AuthOutcome::Challenge { failed: false, .. }
        ));
        // so is one of the right shape whose MAC does not check: its last digit changed,
        // answered correctly for that nonce
        let ch = a.challenges(t0, false)[0].clone();
        let nonce = ch.split("nonce=\"").nth(1).and_then(|r| r.split('"').next()).expect("nonce").to_owned();
        let last = if nonce.ends_with('0') { "1" } else { "0" };
        let tampered = format!("{}{last}", &nonce[..nonce.len() - 1]);
        let ch = ch.replace(&nonce, &tampered);
        let h = answer_challenge(&ch, "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", 1).expect("a");
        assert_eq!(
            a.verify(t0, IP, "REGISTER", Some(&h), lookup),
            AuthOutcome::Challenge { stale: true, failed: false }
        );
    }

    #[test]
    fn too_many_failures_block_the_source_for_a_while() {
        let (mut a, t0) = setup();
        for _ in 0..10 {
            let h = answer(&mut a, t0, 0, "anne", "forkert", 1);
            assert!(matches!(
                a.verify(t0, IP, "REGISTER", Some(&h), lookup),
                AuthOutcome::Challenge { failed: true, .. }
            ));
        }
        let good = answer(&mut a, t0, 0, "anne", "hemmelig", 1);
        assert_eq!(a.verify(t0, IP, "REGISTER", Some(&good), lookup), AuthOutcome::Blocked);
        let other: IpAddr = "192.0.2.8".parse().expect("ip");
        let good2 = answer(&mut a, t0, 0, "anne", "hemmelig", 1);
        assert!(matches!(a.verify(t0, other, "REGISTER", Some(&good2), lookup), AuthOutcome::Authorized { .. }));
        let later = t0 + Duration::from_secs(301);
        let good3 = answer(&mut a, later, 0, "anne", "hemmelig", 1);
        assert!(matches!(a.verify(later, IP, "REGISTER", Some(&good3), lookup), AuthOutcome::Authorized { .. }));
    }

    #[test]
    fn an_algorithm_not_offered_is_refused() {
        let t0 = Instant::now();
        let mut cfg = AuthConfig::new("kommune.example");
        cfg.algorithms = vec![Algorithm::Sha256];
        let mut a = Authenticator::new(cfg, [7; 32], t0);
        let ch = a.challenges(t0, false);
        assert_eq!(ch.len(), 1);
        assert!(ch[0].contains("SHA-256"));
        let md5 = answer_challenge(
            &ch[0].replace("SHA-256", "MD5"),
            "REGISTER",
            "sip:kommune.example",
            "anne",
            "hemmelig",
            "c",
            1,
        )
        .expect("a");
        assert!(matches!(
            a.verify(t0, IP, "REGISTER", Some(&md5), lookup),
            AuthOutcome::Challenge { failed: true, .. }
        ));
        let sha = answer_challenge(&ch[0], "REGISTER", "sip:kommune.example", "anne", "hemmelig", "c", 1).expect("a");
        assert!(matches!(a.verify(t0, IP, "REGISTER", Some(&sha), lookup), AuthOutcome::Authorized { .. }));
    }

    #[test]
    fn other_schemes_get_a_challenge() {
        let (mut a, t0) = setup();
        assert!(matches!(
            a.verify(t0, IP, "REGISTER", Some("NoOneKnowsThisScheme opaque-data=here"), lookup),
            AuthOutcome::Challenge { .. }
        ));
    }
}
