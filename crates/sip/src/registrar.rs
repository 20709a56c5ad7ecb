//! The registrar (RFC 3261 §10.3): bindings of an address-of-record to contacts.
//!
//! Pure logic: the caller authenticates first, passes wall-clock seconds in, and persists
//! the [`BindingChange`]s it gets back. Each binding remembers the address the REGISTER
//! came from, so calls reach phones behind NAT where their Contact is unreachable.

use std::sync::Arc;

use sip_msg::{Contacts, Core, HeaderName, NameAddr, Request, Response, Uri};

use crate::fastmap::FastMap;
use crate::transport::Peer;

/// Registrar limits.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Shorter non-zero expiries get 423 with Min-Expires (§10.3 step 7).
    pub min_expires: u32,
    /// Longer expiries are cut to this.
    pub max_expires: u32,
    /// Used when the REGISTER states none.
    pub default_expires: u32,
    /// Contacts one address-of-record may hold.
    pub max_contacts: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self { min_expires: 60, max_expires: 7200, default_expires: 3600, max_contacts: 10 }
    }
}

/// A contact URI with its printed form, made once when the binding is made: the binding's
/// key, the 200's Contact list and the store's row all need the text, and printing a URI
/// each time was a fifth of what persisting a registration cost.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactUri {
    uri: Uri,
    text: Box<str>,
}

impl ContactUri {
    /// The parsed URI.
    #[must_use]
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The URI as printed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<Uri> for ContactUri {
    fn from(uri: Uri) -> Self {
        // Printed without the formatter (`to_string` was 1,600 instructions a REGISTER),
        // into room for a typical contact so the string is not grown along the way.
        let mut text = String::with_capacity(64);
        // writing into a String cannot fail
        let _ = uri.write_into(&mut text);
        Self { uri, text: text.into_boxed_str() }
    }
}

impl std::str::FromStr for ContactUri {
    type Err = sip_msg::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Uri>().map(Self::from)
    }
}

impl std::ops::Deref for ContactUri {
    type Target = Uri;
    fn deref(&self) -> &Uri {
        &self.uri
    }
}

impl std::fmt::Display for ContactUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One registered contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Address-of-record (the user name).
    pub aor: String,
    /// The contact URI as registered (URI parameters kept).
    pub contact: ContactUri,
    /// The Contact header's own parameters other than expires (q, +sip.instance, ...).
    pub params: Vec<sip_msg::Param>,
    /// Preference 0.0–1.0 (§20.10), default 1.0.
    pub q: f32,
    /// Unix seconds when it lapses.
    pub expires_at: i64,
    /// Call-ID of the REGISTER that made it.
    pub call_id: String,
    /// CSeq of that REGISTER.
    pub cseq: u32,
    /// Where the REGISTER came from: where requests to this contact are sent.
    pub source: Peer,
    /// User-Agent of the phone, for the console.
    pub user_agent: Option<String>,
}

impl Binding {
    /// A stable key: the `+sip.instance` (RFC 5626) if any, else the contact URI.
    #[must_use]
    pub fn key(&self) -> &str {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case("+sip.instance"))
            .and_then(|p| p.value.as_deref())
            .unwrap_or(self.contact.as_str())
    }

    /// This binding as a Contact header value of a 200 to REGISTER (§10.3 step 8), with
    /// the seconds it has left.
    fn contact_header(&self, now_unix: i64) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(self.contact.as_str().len() + 24);
        out.push('<');
        out.push_str(self.contact.as_str());
        out.push('>');
        sip_msg::text::write_params(&mut out, &self.params);
        // writing into a String cannot fail
        let _ = write!(out, ";expires={}", (self.expires_at - now_unix).max(0));
        out
    }
}

/// What to persist after a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingChange {
    /// Insert or replace. Shared with the registrar's own list: the store writer reads
    /// the binding the SIP thread keeps, and neither copies it.
    Upsert(Arc<Binding>),
    /// Delete (aor, key).
    Remove {
        /// Address-of-record.
        aor: String,
        /// [`Binding::key`].
        key: String,
    },
}

impl BindingChange {
    /// Insert or replace `binding` (one the registrar does not hold, as in a test or a
    /// migration).
    #[must_use]
    pub fn upsert(binding: Binding) -> Self {
        Self::Upsert(Arc::new(binding))
    }
}

/// Result of one REGISTER.
#[derive(Debug)]
pub struct RegisterOutcome {
    /// The response to send.
    pub response: Response,
    /// Changes to persist.
    pub changes: Vec<BindingChange>,
}

/// In-memory bindings of every address-of-record.
#[derive(Debug, Default)]
pub struct Registrar {
    cfg: RegistrarConfig,
    /// Keyed by authenticated users' AORs only, so a fixed seed is no flooding risk.
    bindings: FastMap<String, Vec<Arc<Binding>>>,
}

impl Registrar {
    /// An empty registrar.
    #[must_use]
    pub fn new(cfg: RegistrarConfig) -> Self {
        Self { cfg, bindings: FastMap::default() }
    }

    /// Make room for `aors` addresses-of-record at once (the configured users), so the
    /// table is sized at start and not by doublings under load.
    pub fn reserve(&mut self, aors: usize) {
        self.bindings.reserve(aors.saturating_sub(self.bindings.len()));
    }

    /// Load bindings from the store after a restart (expired ones are skipped).
    pub fn restore(&mut self, now_unix: i64, bindings: impl IntoIterator<Item = Binding>) {
        for b in bindings {
            if b.expires_at > now_unix {
                self.bindings.entry(b.aor.clone()).or_default().push(Arc::new(b));
            }
        }
    }

    /// Live contacts of an address-of-record, best q first.
    #[must_use]
    pub fn lookup(&self, aor: &str, now_unix: i64) -> Vec<&Binding> {
        let mut v: Vec<&Binding> = self
            .bindings
            .get(aor)
            .map(|v| v.iter().map(|b| &**b).filter(|b| b.expires_at > now_unix).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| b.q.total_cmp(&a.q));
        v
    }

    /// Number of live bindings (for metrics).
    #[must_use]
    pub fn binding_count(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    /// Remove lapsed bindings; returns what to delete from the store.
    pub fn expire(&mut self, now_unix: i64) -> Vec<BindingChange> {
        let mut removed = Vec::new();
        for (aor, list) in &mut self.bindings {
            list.retain(|b| {
                let keep = b.expires_at > now_unix;
                if !keep {
                    removed.push(BindingChange::Remove { aor: aor.clone(), key: b.key().to_owned() });
                }
                keep
            });
        }
        self.bindings.retain(|_, v| !v.is_empty());
        removed
    }

    /// Process an authenticated REGISTER for `aor` (§10.3 steps 6–8).
    pub fn register(&mut self, now_unix: i64, aor: &str, req: &Request, core: &Core, source: Peer) -> RegisterOutcome {
        let reply = |status: u16| Response::to_request(req, status);
        let header_expires = match req.headers.expires() {
            Ok(e) => e,
            Err(_) => return bad(req, "Expires"),
        };
        let contacts = match req.headers.contacts() {
            Ok(c) => c,
            Err(_) => return bad(req, "Contact"),
        };
        let user_agent = req.headers.get(&HeaderName::UserAgent).map(str::to_owned);
        let mut changes = Vec::new();
        match contacts {
            None => {}
            Some(Contacts::Star) => {
                // `*` only with Expires: 0 (§10.3 step 6)
                if header_expires != Some(0) {
                    return bad(req, "Contact: * needs Expires: 0");
                }
                let list = self.bindings.remove(aor).unwrap_or_default();
                for b in list {
                    if b.call_id == core.call_id && core.cseq.seq <= b.cseq {
                        // out of order: put everything back and refuse
                        self.bindings.entry(aor.to_owned()).or_default().push(b);
                        continue;
                    }
                    changes.push(BindingChange::Remove { aor: aor.to_owned(), key: b.key().to_owned() });
                }
            }
            Some(Contacts::List(list)) => {
                // Check every contact before changing anything (the request is atomic).
                let mut planned: Vec<(NameAddr, u32)> = Vec::new();
                for na in list {
                    let expires = match na.param("expires").and_then(|p| p.value.as_deref()) {
                        Some(v) => match sip_msg::parse_delta_seconds(v, "Contact") {
                            Ok(e) => e,
                            Err(_) => return bad(req, "Contact expires"),
                        },
                        None => header_expires.unwrap_or(self.cfg.default_expires),
                    };
                    if expires != 0 && expires < self.cfg.min_expires {
                        let mut r = reply(423);
                        r.headers.push(HeaderName::MinExpires, self.cfg.min_expires.to_string());
                        return RegisterOutcome { response: r, changes: Vec::new() };
                    }
                    if !matches!(na.uri, Uri::Sip(_) | Uri::Tel(_)) {
                        return bad(req, "Contact scheme");
                    }
                    planned.push((na, expires.min(self.cfg.max_expires)));
                }
                // The key is copied only for a new address-of-record, whose list is sized
                // for its contacts: a Vec's first push would make room for four bindings
                // (1,184 bytes) where nearly every user has one phone.
                let current = match self.bindings.get_mut(aor) {
                    Some(current) => current,
                    None => self.bindings.entry(aor.to_owned()).or_insert_with(|| Vec::with_capacity(planned.len())),
                };
                changes.reserve_exact(planned.len());
                for (na, expires) in planned {
                    let q = na
                        .param("q")
                        .and_then(|p| p.value.as_deref())
                        .and_then(|v| v.parse::<f32>().ok())
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(1.0);
                    let params: Vec<sip_msg::Param> =
                        na.params.iter().filter(|p| !p.name.eq_ignore_ascii_case("expires")).cloned().collect();
                    let b = Arc::new(Binding {
                        aor: aor.to_owned(),
                        contact: na.uri.into(),
                        params,
                        q,
                        expires_at: now_unix + i64::from(expires),
                        call_id: core.call_id.clone(),
                        cseq: core.cseq.seq,
                        source,
                        user_agent: user_agent.clone(),
                    });
                    if let Some(i) = current.iter().position(|x| x.key() == b.key()) {
                        // §10.3 step 7: same Call-ID needs a higher CSeq
                        if current[i].call_id == b.call_id && b.cseq <= current[i].cseq {
                            return RegisterOutcome { response: reply(500), changes: Vec::new() };
                        }
                        if expires == 0 {
                            changes.push(BindingChange::Remove { aor: aor.to_owned(), key: b.key().to_owned() });
                            current.remove(i);
                        } else {
                            current[i] = Arc::clone(&b);
                            changes.push(BindingChange::Upsert(b));
                        }
                    } else if expires != 0 {
                        if current.len() >= self.cfg.max_contacts {
                            let mut r = reply(403);
                            r.reason = "Forbidden (too many contacts)".into();
                            return RegisterOutcome { response: r, changes: Vec::new() };
                        }
                        current.push(Arc::clone(&b));
                        changes.push(BindingChange::Upsert(b));
                    }
                }
                if current.is_empty() {
                    self.bindings.remove(aor);
                }
            }
        }
        // §10.3 step 8: 200 with every current binding
        let mut r = reply(200);
        for b in self.lookup(aor, now_unix) {
            r.headers.push(HeaderName::Contact, b.contact_header(now_unix));
        }
        RegisterOutcome { response: r, changes }
    }
}

fn bad(req: &Request, what: &str) -> RegisterOutcome {
    let mut r = Response::to_request(req, 400);
    r.reason = format!("Bad Request ({what})").into();
    RegisterOutcome { response: r, changes: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(contacts: &[&str], expires: Option<&str>, call_id: &str, cseq: u32) -> (Request, Core) {
        let mut s = format!(
            "REGISTER sip:kommune.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK{cseq}\r\nFrom: <sip:anne@kommune.example>;tag=1\r\nTo: <sip:anne@kommune.example>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
        );
        for c in contacts {
            s += &format!("Contact: {c}\r\n");
        }
        if let Some(e) = expires {
            s += &format!("Expires: {e}\r\n");
        }
        s += "Content-Length: 0\r\n\r\n";
        let Ok(Some(sip_msg::Message::Request(r))) = sip_msg::parse_datagram(s.as_bytes()) else { panic!("parse") };
        let core = r.core().expect("core");
        (r, core)
    }

    fn src() -> Peer {
        Peer::udp("192.0.2.7:5060".parse().expect("addr"))
    }

    #[test]
    fn several_contacts_with_q_values_and_refresh() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) = reg(
            &["<sip:anne@192.0.2.7:5060>;q=0.5", "<sip:anne@192.0.2.8:5060;transport=tcp>;q=0.9;expires=120"],
            Some("600"),
            "c",
            1,
        );
        let out = r.register(1000, "anne", &req, &core, src());
        assert_eq!(out.response.status, 200);
        assert_eq!(out.changes.len(), 2);
        let b = r.lookup("anne", 1000);
        assert_eq!(b.len(), 2);
        assert!((b[0].q - 0.9).abs() < f32::EPSILON, "best q first");
        assert_eq!(b[0].expires_at, 1120);
        assert_eq!(b[1].expires_at, 1600);
        // transport=tcp stays a URI parameter; expires is not stored as a contact param
        assert!(b[0].contact.as_sip().expect("sip").param("transport").is_some());
        assert!(b[0].params.iter().all(|p| p.name != "expires"));
        // 200 lists both with their remaining expiry
        assert_eq!(out.response.headers.values(&HeaderName::Contact).len(), 2);
        // lapsed bindings disappear
        assert_eq!(r.lookup("anne", 1121).len(), 1);
        assert_eq!(r.expire(1121).len(), 1);
    }

    #[test]
    fn too_brief_interval_gets_423_with_min_expires() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>"], Some("30"), "c", 1);
        let out = r.register(0, "anne", &req, &core, src());
        assert_eq!(out.response.status, 423);
        assert_eq!(out.response.headers.get(&HeaderName::MinExpires), Some("60"));
        assert!(r.lookup("anne", 0).is_empty());
    }

    #[test]
    fn long_expiry_is_cut_to_max() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>"], Some("999999"), "c", 1);
        r.register(0, "anne", &req, &core, src());
        assert_eq!(r.lookup("anne", 0)[0].expires_at, 7200);
    }

    #[test]
    fn star_removes_all_and_needs_expires_zero() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>", "<sip:anne@192.0.2.8>"], None, "c", 1);
        r.register(0, "anne", &req, &core, src());
        let (req, core) = reg(&["*"], Some("60"), "d", 1);
        assert_eq!(r.register(0, "anne", &req, &core, src()).response.status, 400);
        let (req, core) = reg(&["*"], Some("0"), "d", 2);
        let out = r.register(0, "anne", &req, &core, src());
        assert_eq!(out.response.status, 200);
        assert_eq!(out.changes.len(), 2);
        assert!(r.lookup("anne", 0).is_empty());
    }

    #[test]
    fn expires_zero_removes_one_and_query_lists() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>", "<sip:anne@192.0.2.8>"], None, "c", 1);
        r.register(0, "anne", &req, &core, src());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>;expires=0"], None, "c", 2);
        r.register(0, "anne", &req, &core, src());
        let (req, core) = reg(&[], None, "c", 3);
        let out = r.register(0, "anne", &req, &core, src());
        assert_eq!(out.response.headers.values(&HeaderName::Contact), vec!["<sip:anne@192.0.2.8>;expires=3600"]);
    }

    #[test]
    fn instance_id_is_the_key_and_the_200_lists_contact_params() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) =
            reg(&["<sip:anne@192.0.2.7;transport=tcp>;+sip.instance=\"<urn:uuid:a1>\";q=0.7"], Some("600"), "c", 1);
        let out = r.register(100, "anne", &req, &core, src());
        let b = r.lookup("anne", 100)[0];
        assert_eq!(b.key(), "\"<urn:uuid:a1>\"");
        assert_eq!(b.contact.as_str(), "sip:anne@192.0.2.7;transport=tcp");
        assert_eq!(
            out.response.headers.values(&HeaderName::Contact),
            vec!["<sip:anne@192.0.2.7;transport=tcp>;+sip.instance=\"<urn:uuid:a1>\";q=0.7;expires=600"]
        );
        // the same instance from a new address replaces the binding, not adds one
        let (req, core) = reg(&["<sip:anne@192.0.2.9>;+sip.instance=\"<urn:uuid:a1>\""], Some("600"), "c", 2);
        r.register(110, "anne", &req, &core, src());
        let now = r.lookup("anne", 110);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].contact.as_str(), "sip:anne@192.0.2.9");
    }

    #[test]
    fn same_call_id_with_old_cseq_is_refused() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>"], None, "c", 5);
        r.register(0, "anne", &req, &core, src());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>"], Some("0"), "c", 4);
        assert_eq!(r.register(0, "anne", &req, &core, src()).response.status, 500);
        assert_eq!(r.lookup("anne", 0).len(), 1);
    }

    #[test]
    fn restore_skips_expired() {
        let mut r = Registrar::new(RegistrarConfig::default());
        let (req, core) = reg(&["<sip:anne@192.0.2.7>"], Some("100"), "c", 1);
        let out = r.register(0, "anne", &req, &core, src());
        let saved: Vec<Binding> = out
            .changes
            .into_iter()
            .filter_map(|c| match c {
                BindingChange::Upsert(b) => Some(Binding::clone(&b)),
                BindingChange::Remove { .. } => None,
            })
            .collect();
        let mut fresh = Registrar::new(RegistrarConfig::default());
        fresh.restore(50, saved.clone());
        assert_eq!(fresh.lookup("anne", 50).len(), 1);
        let mut late = Registrar::new(RegistrarConfig::default());
        late.restore(200, saved);
        assert_eq!(late.binding_count(), 0);
    }
}
