//! Dialogs (RFC 3261 §12): the state two user agents share after an INVITE, used by
//! the B2BUA for each of its legs.
//!
//! A dialog is created early (by a 1xx with a To tag, or by our own 1xx) and confirmed by
//! a 2xx. Requests inside it take their Request-URI from the remote target and their
//! Route headers from the route set (§12.2.1.1); the remote CSeq must grow (§12.2.2).

use sip_msg::{CSeq, Core, HeaderName, Method, NameAddr, Request, Response, Uri};

use crate::transport::Peer;

/// Dialog identity: Call-ID with local and remote tags (§12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// Their tag.
    pub remote_tag: String,
}

/// Early or confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// After a 1xx with tag.
    Early,
    /// After a 2xx.
    Confirmed,
}

/// Why an in-dialog request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// CSeq lower than or equal to the last one (§12.2.2: answer 500).
    #[error("CSeq {got} not above {last}")]
    CSeqOutOfOrder {
        /// Last remote CSeq.
        last: u32,
        /// This request's.
        got: u32,
    },
}

/// One dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Identity.
    pub id: DialogId,
    /// State.
    pub state: DialogState,
    /// Our address with our tag, as the From of our requests (the value as the dialog
    /// began, so that it is printed without being parsed and formatted again).
    pub local: String,
    /// Their address with their tag, as the To of our requests.
    pub remote: String,
    /// Where in-dialog requests go (their Contact).
    pub remote_target: Uri,
    /// Route set, in the order our requests carry it.
    pub route_set: Vec<String>,
    /// Our last CSeq.
    pub local_seq: u32,
    /// Their last CSeq.
    pub remote_seq: Option<u32>,
    /// The transport address requests are sent to.
    pub peer: Peer,
}

fn first_contact(h: &sip_msg::Headers) -> Option<Uri> {
    // Only the first value is the target: reading every contact into a list first cost
    // a string per contact on every dialog-forming message.
    let line = sip_msg::text::unfold(h.get(&HeaderName::Contact)?);
    let first = sip_msg::text::split_commas(&line).next()?;
    if first == "*" {
        return None;
    }
    NameAddr::parse(first, "Contact").ok().map(|c| c.uri)
}

impl Dialog {
    /// The UAS side (§12.1.1), made when we answer `req` with a tag of ours.
    #[must_use]
    pub fn as_uas(req: &Request, core: &Core, local_tag: &str, peer: Peer, confirmed: bool) -> Self {
        let local = core.to.with_tag(local_tag);
        Self {
            id: DialogId {
                call_id: core.call_id.clone(),
                local_tag: local_tag.to_owned(),
                remote_tag: core.from.tag().unwrap_or_default().to_owned(),
            },
            state: if confirmed { DialogState::Confirmed } else { DialogState::Early },
            local,
            remote: core.from.as_str().to_owned(),
            // without a Contact (§8.1.1.8 requires one), the From's URI, or else ours
            remote_target: first_contact(&req.headers)
                .or_else(|| core.from.addr().ok().map(|a| a.uri))
                .unwrap_or_else(|| req.uri.clone()),
            // §12.1.1: Record-Route in request order
            route_set: req.headers.values(&HeaderName::RecordRoute),
            local_seq: 0,
            remote_seq: Some(core.cseq.seq),
            peer,
        }
    }

    /// The UAC side (§12.1.2), made from a 1xx-with-tag or 2xx to our request.
    #[must_use]
    pub fn as_uac(req: &Request, resp: &Response, core: &Core, peer: Peer) -> Self {
        let mut route_set = resp.headers.values(&HeaderName::RecordRoute);
        route_set.reverse();
        let local_seq = req.headers.cseq().map(|c| c.seq).unwrap_or(1);
        let local = req.headers.from_field().unwrap_or_else(|_| core.from.clone());
        Self {
            id: DialogId {
                call_id: core.call_id.clone(),
                local_tag: local.tag().unwrap_or_default().to_owned(),
                remote_tag: core.to.tag().unwrap_or_default().to_owned(),
            },
            state: if resp.status >= 200 { DialogState::Confirmed } else { DialogState::Early },
            local: local.as_str().to_owned(),
            remote: core.to.as_str().to_owned(),
            remote_target: first_contact(&resp.headers).unwrap_or_else(|| req.uri.clone()),
            route_set,
            local_seq,
            remote_seq: None,
            peer,
        }
    }

    /// A 2xx confirms the dialog and refreshes the target (§12.2.1.2).
    pub fn confirm(&mut self, resp: &Response) {
        self.state = DialogState::Confirmed;
        if let Some(c) = first_contact(&resp.headers) {
            self.remote_target = c;
        }
    }

    /// Check an incoming request's CSeq and apply a target refresh (re-INVITE, UPDATE).
    pub fn on_remote_request(&mut self, req: &Request, core: &Core) -> Result<(), DialogError> {
        if let Some(last) = self.remote_seq
            && core.cseq.seq <= last
            && req.method != Method::Ack
            && req.method != Method::Cancel
        {
            return Err(DialogError::CSeqOutOfOrder { last, got: core.cseq.seq });
        }
        if req.method != Method::Ack && req.method != Method::Cancel {
            self.remote_seq = Some(core.cseq.seq);
        }
        if matches!(req.method, Method::Invite | Method::Update)
            && let Some(c) = first_contact(&req.headers)
        {
            self.remote_target = c;
        }
        Ok(())
    }

    /// A new request inside the dialog (§12.2.1.1). ACK reuses the INVITE's CSeq number;
    /// use [`Dialog::make_ack`] for it.
    pub fn make_request(&mut self, method: Method, contact: &str) -> Request {
        self.local_seq += 1;
        let seq = self.local_seq;
        self.build(method, seq, contact)
    }

    /// The ACK for a 2xx to our INVITE with CSeq `seq` (§13.2.2.4).
    #[must_use]
    pub fn make_ack(&self, seq: u32, contact: &str) -> Request {
        self.build(Method::Ack, seq, contact)
    }

    fn build(&self, method: Method, seq: u32, contact: &str) -> Request {
        // Loose routing (§12.2.1.1): with an lr first route, the URI is the remote target.
        let (uri, routes) = match self.route_set.first() {
            Some(first) if !is_loose(first) => {
                let mut rs: Vec<String> = self.route_set[1..].to_vec();
                rs.push(format!("<{}>", self.remote_target));
                let uri = NameAddr::parse(first, "Route").map(|n| n.uri).unwrap_or_else(|_| self.remote_target.clone());
                (uri, rs)
            }
            _ => (self.remote_target.clone(), self.route_set.clone()),
        };
        let mut r = Request::new(method.clone(), uri);
        r.headers.push(HeaderName::From, self.local.as_str());
        r.headers.push(HeaderName::To, self.remote.as_str());
        r.headers.push(HeaderName::CallId, self.id.call_id.as_str());
        r.headers.push(HeaderName::CSeq, CSeq::value(seq, &method));
        for route in routes {
            r.headers.push(HeaderName::Route, route);
        }
        if matches!(method, Method::Invite | Method::Update) {
            r.headers.push(HeaderName::Contact, contact);
        }
        r
    }
}

fn is_loose(route: &str) -> bool {
    NameAddr::parse(route, "Route")
        .ok()
        .and_then(|n| n.uri.as_sip().map(sip_msg::SipUri::is_loose_route))
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_req(s: &str) -> Request {
        match sip_msg::parse_datagram(s.as_bytes()) {
            Ok(Some(sip_msg::Message::Request(r))) => r,
            other => panic!("{other:?}"),
        }
    }

    fn invite() -> Request {
        parse_req(
            "INVITE sip:bo@svar SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\nFrom: \"Anne\" <sip:anne@svar>;tag=a\r\nTo: <sip:bo@svar>\r\nCall-ID: d1\r\nCSeq: 10 INVITE\r\nContact: <sip:anne@192.0.2.7:5062>\r\nRecord-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\nContent-Length: 0\r\n\r\n",
        )
    }

    #[test]
    fn uas_dialog_routes_via_record_route_in_order_and_checks_cseq() {
        let req = invite();
        let core = req.core().expect("core");
        let peer = Peer::udp("192.0.2.7:5062".parse().expect("a"));
        let mut d = Dialog::as_uas(&req, &core, "ours", peer, true);
        assert_eq!(d.id.remote_tag, "a");
        let bye = d.make_request(Method::Bye, "<sip:svar@192.0.2.1>");
        assert_eq!(bye.uri.to_string(), "sip:anne@192.0.2.7:5062");
        assert_eq!(bye.headers.values(&HeaderName::Route), vec!["<sip:p1.example;lr>", "<sip:p2.example;lr>"]);
        assert!(bye.headers.to_addr().expect("to").tag() == Some("a"));
        assert!(bye.headers.from_addr().expect("from").tag() == Some("ours"));
        // a request with an old CSeq is refused; a newer one refreshes the target
        let mut re = req.clone();
        re.headers.set(HeaderName::CSeq, "10 INVITE");
        assert!(d.on_remote_request(&re, &re.core().expect("c")).is_err());
        re.headers.set(HeaderName::CSeq, "11 INVITE");
        re.headers.set(HeaderName::Contact, "<sip:anne@192.0.2.9>");
        d.on_remote_request(&re, &re.core().expect("c")).expect("ok");
        assert_eq!(d.remote_target.to_string(), "sip:anne@192.0.2.9");
    }

    #[test]
    fn uac_dialog_reverses_record_route_and_counts_cseq() {
        let req = invite();
        let mut resp = Response::to_request(&req, 200);
        resp.ensure_to_tag("b").expect("tag");
        resp.headers.push(HeaderName::RecordRoute, "<sip:p1.example;lr>, <sip:p2.example;lr>");
        resp.headers.push(HeaderName::Contact, "<sip:bo@192.0.2.20>");
        let core = resp.core().expect("core");
        let mut d = Dialog::as_uac(&req, &resp, &core, Peer::udp("192.0.2.20:5060".parse().expect("a")));
        assert_eq!(d.state, DialogState::Confirmed);
        let ack = d.make_ack(10, "<sip:svar@x>");
        assert_eq!(ack.headers.cseq().expect("cseq").seq, 10);
        let bye = d.make_request(Method::Bye, "<sip:svar@x>");
        assert_eq!(bye.headers.cseq().expect("cseq").seq, 11);
        assert_eq!(bye.uri.to_string(), "sip:bo@192.0.2.20");
        assert_eq!(bye.headers.values(&HeaderName::Route), vec!["<sip:p2.example;lr>", "<sip:p1.example;lr>"]);
    }

    #[test]
    fn strict_router_first_route_becomes_request_uri() {
        let req = invite();
        let core = req.core().expect("core");
        let mut d = Dialog::as_uas(&req, &core, "t", Peer::udp("192.0.2.7:5062".parse().expect("a")), true);
        d.route_set = vec!["<sip:strict.example>".into(), "<sip:p2.example;lr>".into()];
        let bye = d.make_request(Method::Bye, "<sip:x>");
        assert_eq!(bye.uri.to_string(), "sip:strict.example");
        assert_eq!(bye.headers.values(&HeaderName::Route), vec!["<sip:p2.example;lr>", "<sip:anne@192.0.2.7:5062>"]);
    }
}
