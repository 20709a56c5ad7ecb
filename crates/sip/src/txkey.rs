//! What identifies a server transaction (RFC 3261 §17.2.3), as a view borrowed from the
//! request (for lookups: nothing is built) and as the owned key its entry keeps.

use std::hash::{Hash, Hasher};

use sip_msg::{Core, Host, Method};

/// A server transaction's identity, borrowed from a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyView<'a> {
    /// §17.2.3: branch, sent-by (host compared case-insensitively, and port) and method.
    Rfc3261 { branch: &'a str, host: &'a Host, port: u16, method: &'a Method },
    /// RFC 2543 matching (§17.2.3): Call-ID, From tag, CSeq number and the top Via. The
    /// Request-URI is left out, as for the ACK, whose URI may differ.
    Rfc2543 { call_id: &'a str, from_tag: &'a str, cseq: u32, via: &'a str, method: &'a Method },
}

impl<'a> KeyView<'a> {
    /// The key of the transaction `core`'s request belongs to, for `method` (an ACK
    /// or CANCEL looks for its INVITE by passing `Method::Invite`).
    pub(crate) fn of(core: &'a Core, method: &'a Method) -> Self {
        if core.via.has_rfc3261_branch() {
            KeyView::Rfc3261 {
                branch: core.via.branch().unwrap_or_default(),
                host: core.via.host(),
                port: core.via.port().unwrap_or(5060),
                method,
            }
        } else {
            KeyView::Rfc2543 {
                call_id: &core.call_id,
                from_tag: core.from.tag().unwrap_or_default(),
                cseq: core.cseq.seq,
                via: core.via.as_str(),
                method,
            }
        }
    }

    pub(crate) fn to_owned_key(self) -> ServerKey {
        match self {
            KeyView::Rfc3261 { branch, host, port, method } => {
                ServerKey::Rfc3261 { branch: branch.to_owned(), host: host.clone(), port, method: method.clone() }
            }
            KeyView::Rfc2543 { call_id, from_tag, cseq, via, method } => ServerKey::Rfc2543(Box::new(Rfc2543Key {
                call_id: call_id.to_owned(),
                from_tag: from_tag.to_owned(),
                cseq,
                via: via.to_owned(),
                method: method.clone(),
            })),
        }
    }

    pub(crate) fn method(&self) -> &'a Method {
        match *self {
            KeyView::Rfc3261 { method, .. } | KeyView::Rfc2543 { method, .. } => method,
        }
    }
}

impl Hash for KeyView<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match *self {
            KeyView::Rfc3261 { branch, host, port, method } => {
                h.write_u8(0);
                branch.hash(h);
                match host {
                    Host::Domain(d) => {
                        h.write_u8(0);
                        for b in d.bytes() {
                            h.write_u8(b.to_ascii_lowercase());
                        }
                        h.write_u8(0xff);
                    }
                    Host::V4(a) => {
                        h.write_u8(1);
                        a.hash(h);
                    }
                    Host::V6(a) => {
                        h.write_u8(2);
                        a.hash(h);
                    }
                }
                port.hash(h);
                method.hash(h);
            }
            KeyView::Rfc2543 { call_id, from_tag, cseq, via, method } => {
                h.write_u8(1);
                call_id.hash(h);
                from_tag.hash(h);
                cseq.hash(h);
                via.hash(h);
                method.hash(h);
            }
        }
    }
}

impl PartialEq for KeyView<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (
                KeyView::Rfc3261 { branch, host, port, method },
                KeyView::Rfc3261 { branch: b2, host: h2, port: p2, method: m2 },
            ) => branch == b2 && port == p2 && method == m2 && same_host(host, h2),
            (
                KeyView::Rfc2543 { call_id, from_tag, cseq, via, method },
                KeyView::Rfc2543 { call_id: c2, from_tag: f2, cseq: s2, via: v2, method: m2 },
            ) => cseq == s2 && call_id == c2 && from_tag == f2 && via == v2 && method == m2,
            _ => false,
        }
    }
}

/// Host names compare case-insensitively (RFC 3261 §19.1.4), addresses by value.
fn same_host(a: &Host, b: &Host) -> bool {
    match (a, b) {
        (Host::Domain(x), Host::Domain(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// The owned key a server transaction's entry keeps.
#[derive(Debug, Clone)]
pub(crate) enum ServerKey {
    Rfc3261 {
        branch: String,
        host: Host,
        port: u16,
        method: Method,
    },
    /// Boxed: RFC 2543 peers are rare, and the entries of the others stay small.
    Rfc2543(Box<Rfc2543Key>),
}

#[derive(Debug, Clone)]
pub(crate) struct Rfc2543Key {
    call_id: String,
    from_tag: String,
    cseq: u32,
    via: String,
    method: Method,
}

impl ServerKey {
    pub(crate) fn view(&self) -> KeyView<'_> {
        match self {
            Self::Rfc3261 { branch, host, port, method } => KeyView::Rfc3261 { branch, host, port: *port, method },
            Self::Rfc2543(k) => KeyView::Rfc2543 {
                call_id: &k.call_id,
                from_tag: &k.from_tag,
                cseq: k.cseq,
                via: &k.via,
                method: &k.method,
            },
        }
    }
}

/// A merge key borrowed from a request (RFC 3261 §8.2.2.2): From tag, Call-ID, CSeq
/// number and method.
pub(crate) type MergeView<'a> = (&'a str, &'a str, u32, &'a Method);

/// The merge key a transaction is filed under, owned: the From tag and the Call-ID in one
/// text (one allocation, where a string each was two more per request without a To tag).
#[derive(Debug)]
pub(crate) struct MergeKey {
    /// The fingerprint of the view it was made from (what the index files it under).
    pub(crate) fp: u64,
    tag_and_call_id: Box<str>,
    tag_len: usize,
    cseq: u32,
    method: Method,
}

impl MergeKey {
    pub(crate) fn new((tag, call_id, cseq, method): MergeView<'_>, fp: u64) -> Self {
        let mut text = String::with_capacity(tag.len() + call_id.len());
        text.push_str(tag);
        text.push_str(call_id);
        Self { fp, tag_and_call_id: text.into_boxed_str(), tag_len: tag.len(), cseq, method: method.clone() }
    }

    /// The key as a view (hashes as the view it was made from).
    pub(crate) fn view(&self) -> MergeView<'_> {
        let (tag, call_id) = self.tag_and_call_id.split_at(self.tag_len);
        (tag, call_id, self.cseq, &self.method)
    }

    pub(crate) fn matches(&self, other: MergeView<'_>) -> bool {
        self.view() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txindex::Fingerprints;

    fn core(via: &str) -> Core {
        let text = format!(
            "INVITE sip:a@b SIP/2.0\r\nVia: {via}\r\nFrom: <sip:x@y>;tag=f1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 4 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        match sip_msg::parse_datagram(text.as_bytes()).expect("parses").expect("a message") {
            sip_msg::Message::Request(r) => r.core().expect("core"),
            sip_msg::Message::Response(_) => unreachable!("a request"),
        }
    }

    #[test]
    fn sent_by_host_names_match_in_any_case_and_hash_alike() {
        let fp = Fingerprints::new(1);
        let (a, b) = (core("SIP/2.0/UDP PBX.Example;branch=z9hG4bKx"), core("SIP/2.0/UDP pbx.example;branch=z9hG4bKx"));
        let (ka, kb) = (KeyView::of(&a, &Method::Invite), KeyView::of(&b, &Method::Invite));
        assert_eq!(ka, kb);
        assert_eq!(fp.of(&ka), fp.of(&kb));
        assert_eq!(ka.to_owned_key().view(), kb);
        assert_eq!(fp.of(&ka.to_owned_key().view()), fp.of(&kb));
    }

    #[test]
    fn branch_port_and_method_each_tell_transactions_apart() {
        let a = core("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx");
        let other_branch = core("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKy");
        let other_port = core("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKx");
        let invite = KeyView::of(&a, &Method::Invite);
        assert_ne!(invite, KeyView::of(&other_branch, &Method::Invite));
        assert_ne!(invite, KeyView::of(&other_port, &Method::Invite));
        assert_ne!(invite, KeyView::of(&a, &Method::Cancel));
        // an RFC 2543 peer (no magic cookie) is matched by dialog fields and the Via
        let old = core("SIP/2.0/UDP 10.0.0.1:5060;branch=1");
        assert!(matches!(KeyView::of(&old, &Method::Invite), KeyView::Rfc2543 { cseq: 4, .. }));
        assert_ne!(KeyView::of(&old, &Method::Invite), invite);
    }

    #[test]
    fn a_merge_key_matches_only_its_own_view() {
        let key = MergeKey::new(("f1", "c1", 4, &Method::Invite), 7);
        assert!(key.matches(("f1", "c1", 4, &Method::Invite)));
        assert!(!key.matches(("f1", "c1", 5, &Method::Invite)), "another CSeq");
        assert!(!key.matches(("f1", "c1", 4, &Method::Options)), "another method");
        assert!(!key.matches(("f1", "c2", 4, &Method::Invite)), "another Call-ID");
        assert!(!key.matches(("f2", "c1", 4, &Method::Invite)), "another tag");
        // the tag and the Call-ID are kept in one text: where one ends must still count
        assert!(!key.matches(("f", "1c1", 4, &Method::Invite)));
        assert!(!key.matches(("f1c", "1", 4, &Method::Invite)));
    }
}
