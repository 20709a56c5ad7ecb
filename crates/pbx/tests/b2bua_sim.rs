//! The B2BUA in virtual time: a trunk caller, svar and registered callee phones, all
//! sans-IO endpoints on a simulated network. Whatever the callee and caller do, every
//! call leaves exactly one record with the right outcome and nothing stays active:
//! "no call is lost" starts here.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pbx::config::{Did, DidTarget, PbxConfig, SourceMatch, Trunk, User};
use pbx::record::{CallRecord, Outcome, Party};
use pbx::{MediaEvent, MediaOp, MediaSettings, Pbx, PbxOutput, Persist};
use proptest::prelude::*;
use sip::dialog::Dialog;
use sip::digest::{AuthConfig, Authenticator, Credentials};
use sip::registrar::{Binding, Registrar, RegistrarConfig};
use sip::{ClientTxId, Endpoint, EndpointConfig, Event, Input, Output, Peer, ServerTxId, Transport};
use sip_msg::{HeaderName, Method, Request, Response};

const SVAR: &str = "192.0.2.1:5060";
const TRUNK: &str = "192.0.2.50:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

/// What a callee phone does with an INVITE.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Callee {
    AnswerAfter(u64),
    Busy,
    Decline,
    RingForever,
    Silent,
}

/// What the caller does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    HangUpAfter(u64),
    CancelAfter(u64),
    WaitForCalleeBye,
}

struct Phone {
    addr: SocketAddr,
    ep: Endpoint,
    behaviour: Callee,
    /// INVITEs waiting for their scheduled answer: (when, tx, request)
    pending: Vec<(Instant, ServerTxId, Request)>,
    /// INVITEs ringing with no plan to answer.
    ringing: Vec<(ServerTxId, Request)>,
    /// In-dialog requests this phone received, with their bodies.
    seen: Vec<(Method, bytes::Bytes)>,
    /// The answered dialog as the phone sees it (for its own re-INVITE).
    answered: Option<Dialog>,
    hangs_up_after: Option<u64>,
    dialogs: Vec<(Instant, Dialog)>,
}

struct World {
    t0: Instant,
    now: Instant,
    pbx: Pbx,
    caller: Endpoint,
    caller_plan: Caller,
    caller_invite: Option<(ClientTxId, Request)>,
    caller_dialog: Option<Dialog>,
    caller_actions: Vec<(Instant, &'static str)>,
    phones: Vec<Phone>,
    flight: Vec<(Instant, Peer, SocketAddr, Vec<u8>)>,
    records: Vec<CallRecord>,
    caller_finals: Vec<u16>,
    caller_requests: Vec<Method>,
    /// New calls svar sent to the trunk (an IVR's external target): Request-URI and From.
    trunk_calls: Vec<(String, String)>,
    caller_reinvite_pending: bool,
    /// The caller's re-INVITE went without SDP: the offer comes in the 2xx, the answer
    /// goes in the ACK.
    caller_reinvite_without_sdp: bool,
    /// The 2xx to the caller's re-INVITE, body included.
    caller_reinvite_answer: Option<bytes::Bytes>,
    caller_reinvite_finals: Vec<u16>,
    caller_other_finals: Vec<(Method, u16)>,
    phone_statuses_seen: Vec<u16>,
    anchored: bool,
    media_ops: Vec<MediaOp>,
    caller_answer: Option<bytes::Bytes>,
    messages: Vec<pbx::RecordedMessage>,
    conversations: Vec<pbx::ivr_setup::ConversationRecording>,
    withdrawals: Vec<pbx::ivr_setup::ConsentWithdrawn>,
    ivr_setup: Option<pbx::IvrSetup>,
}

const CALLER_SDP: &str = "v=0\r\no=trunk 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn phone_sdp(ip: std::net::IpAddr, direction: &str) -> bytes::Bytes {
    bytes::Bytes::from(format!(
        "v=0\r\no=phone 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    ))
}

/// The main menu `hoved` with these options (digit, action), five seconds to choose, one
/// retry, the switchboard as fallback.
fn main_menu(options: &[(&str, &str)]) -> ivr::RawMenu {
    ivr::RawMenu {
        id: "hoved".into(),
        prompt: vec!["velkommen".into()],
        options: options.iter().map(|(k, a)| ((*k).to_owned(), (*a).to_owned())).collect(),
        timeout_s: Some(5),
        retries: Some(1),
        invalid: vec![],
        fallback: Some("operator".into()),
        open: None,
    }
}

/// Menus as the IVR setup holds them.
fn menus(menu: ivr::RawMenu) -> std::sync::Arc<ivr::IvrConfig> {
    std::sync::Arc::new(ivr::IvrConfig::from_raw(&[menu]).expect("menu"))
}

/// A registrar with every phone bound as 1002 (a restart's restored bindings).
fn registrar_for(phones: &[Phone]) -> Registrar {
    let mut registrar = Registrar::new(RegistrarConfig::default());
    registrar.restore(
        0,
        phones.iter().map(|p| Binding {
            aor: "1002".into(),
            contact: format!("sip:1002@{}", p.addr).parse().expect("uri"),
            params: vec![],
            q: 1.0,
            expires_at: 1_000_000,
            call_id: format!("reg-{}", p.addr),
            cseq: 1,
            source: Peer::udp(p.addr),
            user_agent: None,
        }),
    );
    registrar
}

fn media_settings() -> MediaSettings {
    MediaSettings {
        ip: addr(SVAR).ip(),
        first_port: 40_000,
        last_port: 40_100,
        timeout: Duration::from_secs(30),
        codecs: vec![sdp::Codec::Pcma, sdp::Codec::Pcmu],
        dtmf_payload_type: 101,
        music_on_hold: Some(media::prompt::Prompt::from_samples(vec![500; 1600])),
    }
}

fn config(anchored: bool) -> PbxConfig {
    PbxConfig {
        domain: "egeskov.example".into(),
        users: vec![User {
            extension: "1002".into(),
            display: "Bo Berg".into(),
            credentials: Credentials::from_password("1002", "egeskov.example", "pw-pw-pw-pw"),
            caller_id: None,
        }],
        trunks: vec![Trunk {
            name: "udbyder".into(),
            proxy: addr(TRUNK),
            transport: Transport::Udp,
            allowed_sources: vec![SourceMatch { ip: addr(TRUNK).ip(), port: Some(5060) }],
            credentials: None,
            register: false,
            default_caller_id: "+4570102000".into(),
        }],
        dids: vec![Did { number: "+4570102002".into(), target: DidTarget::User("1002".into()) }],
        routes: vec![],
        ring_timeout: Duration::from_secs(20),
        registrar: RegistrarConfig::default(),
        contact_addrs: vec![(Transport::Udp, addr(SVAR))],
        drain_retry_after: 60,
        media: anchored.then(media_settings),
        ivr: None,
        ivr_numbers: vec![],
        record_conversations: false,
        user_index: sip::fastmap::FastMap::default(),
    }
    .index()
}

impl World {
    fn new(seed: u64, callees: &[(Callee, Option<u64>)], caller_plan: Caller) -> Self {
        Self::with_media(seed, callees, caller_plan, false)
    }

    /// The DID goes to the IVR: key 1 rings 1002's phones, key 2 an extension nobody
    /// registered (so the caller leaves a message for employee:1003).
    fn with_ivr(seed: u64, callees: &[(Callee, Option<u64>)], caller_plan: Caller) -> Self {
        let mut w = Self::with_media(seed, callees, caller_plan, true);
        let menu = main_menu(&[("1", "user:1002"), ("2", "user:1003")]);
        let prompts = ["velkommen", "indtal-besked", "tak-for-beskeden"]
            .iter()
            .map(|n| (("da".to_owned(), (*n).to_owned()), media::prompt::Prompt::from_samples(vec![100; 8000])))
            .collect();
        let setup = pbx::IvrSetup {
            menus: menus(menu),
            language: "da".into(),
            prompts,
            rings: [
                ("user:1002".to_owned(), vec!["1002".to_owned()]),
                ("user:1003".to_owned(), vec!["1003".to_owned()]),
            ]
            .into(),
            owners: [
                ("user:1002".to_owned(), "employee:1002".to_owned()),
                ("user:1003".to_owned(), "employee:1003".to_owned()),
            ]
            .into(),
            last_resort_owner: "department:omstillingen".into(),
            record_limits: media::record::RecordLimits::default(),
            transfer_timeout: Duration::from_secs(10),
            calendar: None,
        };
        w.ivr_setup = Some(setup.clone());
        w.replace_ivr_with(setup, false, seed);
        w
    }

    fn pbx_ivr_setup(&self) -> Option<pbx::IvrSetup> {
        self.ivr_setup.clone()
    }

    fn replace_ivr(&mut self, setup: pbx::IvrSetup) {
        self.replace_ivr_with(setup, false, 99);
    }

    /// svar anew with this IVR on the DID (the phones' bindings restored).
    fn replace_ivr_with(&mut self, setup: pbx::IvrSetup, record_conversations: bool, seed: u64) {
        let mut cfg = config(true);
        cfg.record_conversations = record_conversations;
        cfg.ivr = Some(setup);
        cfg.dids = vec![Did { number: "+4570102002".into(), target: DidTarget::Ivr }];
        let auth = Authenticator::new(AuthConfig::new("egeskov.example"), [1; 32], self.t0);
        let ep = Endpoint::new(EndpointConfig {
            auto_trying: false,
            ..EndpointConfig::new(vec![(Transport::Udp, addr(SVAR))], seed)
        });
        self.pbx = Pbx::new(ep, cfg, auth, registrar_for(&self.phones));
    }

    /// svar anew with this IVR and these outbound routes.
    fn replace_ivr_with_routes(&mut self, setup: pbx::IvrSetup, routes: Vec<pbx::config::OutboundRoute>) {
        let mut cfg = config(true);
        cfg.ivr = Some(setup);
        cfg.routes = routes;
        cfg.dids = vec![Did { number: "+4570102002".into(), target: DidTarget::Ivr }];
        let cfg = cfg.index();
        let auth = Authenticator::new(AuthConfig::new("egeskov.example"), [1; 32], self.t0);
        let ep = Endpoint::new(EndpointConfig {
            auto_trying: false,
            ..EndpointConfig::new(vec![(Transport::Udp, addr(SVAR))], 98)
        });
        self.pbx = Pbx::new(ep, cfg, auth, registrar_for(&self.phones));
    }

    /// The body of the 2xx to the caller's re-INVITE.
    fn caller_answer_to_reinvite(&self) -> &bytes::Bytes {
        self.caller_reinvite_answer.as_ref().expect("the re-INVITE was answered")
    }

    /// The media reports something for the call.
    fn media(&mut self, event: MediaEvent) {
        let (now, wall) = (self.now, self.wall());
        self.pbx.handle_media(event, now, wall);
        self.drain();
    }

    fn key(&mut self, call: u64, c: char) {
        let key = rtp::Key::from_char(c).expect("key");
        self.media(MediaEvent::Key {
            call,
            leg: media::relay::Leg::A,
            event: rtp::telephone_event::KeyEvent::Start { key, timestamp: 0 },
        });
    }

    fn feeds(&self) -> Vec<&'static str> {
        self.media_ops
            .iter()
            .filter_map(|o| match o {
                MediaOp::Feed { leg: media::relay::Leg::A, feed, .. } => Some(match feed {
                    media::relay::Feed::Bridged => "bridged",
                    media::relay::Feed::Playing(_) => "playing",
                    media::relay::Feed::Silence => "silence",
                }),
                MediaOp::Record { .. } => Some("record"),
                _ => None,
            })
            .collect()
    }

    fn with_media(seed: u64, callees: &[(Callee, Option<u64>)], caller_plan: Caller, anchored: bool) -> Self {
        let t0 = Instant::now();
        let ep = Endpoint::new(EndpointConfig {
            auto_trying: false,
            ..EndpointConfig::new(vec![(Transport::Udp, addr(SVAR))], seed)
        });
        let phones: Vec<Phone> = callees
            .iter()
            .enumerate()
            .map(|(i, (b, hang))| Phone {
                addr: addr(&format!("192.0.2.{}:5060", 10 + i)),
                ep: Endpoint::new(EndpointConfig::new(
                    vec![(Transport::Udp, addr(&format!("192.0.2.{}:5060", 10 + i)))],
                    seed + 1 + i as u64,
                )),
                behaviour: *b,
                pending: Vec::new(),
                ringing: Vec::new(),
                seen: Vec::new(),
                answered: None,
                hangs_up_after: *hang,
                dialogs: Vec::new(),
            })
            .collect();
        let registrar = registrar_for(&phones);
        let auth = Authenticator::new(AuthConfig::new("egeskov.example"), [1; 32], t0);
        let pbx = Pbx::new(ep, config(anchored), auth, registrar);
        Self {
            t0,
            now: t0,
            pbx,
            caller: Endpoint::new(EndpointConfig::new(vec![(Transport::Udp, addr(TRUNK))], seed + 100)),
            caller_plan,
            caller_invite: None,
            caller_dialog: None,
            caller_actions: Vec::new(),
            phones,
            flight: Vec::new(),
            records: Vec::new(),
            caller_finals: Vec::new(),
            caller_requests: Vec::new(),
            trunk_calls: Vec::new(),
            caller_reinvite_pending: false,
            caller_reinvite_without_sdp: false,
            caller_reinvite_answer: None,
            caller_reinvite_finals: Vec::new(),
            caller_other_finals: Vec::new(),
            phone_statuses_seen: Vec::new(),
            anchored,
            media_ops: Vec::new(),
            caller_answer: None,
            messages: Vec::new(),
            conversations: Vec::new(),
            withdrawals: Vec::new(),
            ivr_setup: None,
        }
    }

    fn wall(&self) -> i64 {
        (self.now - self.t0).as_millis() as i64
    }

    fn start_call(&mut self) {
        let mut r = Request::new(Method::Invite, format!("sip:+4570102002@{SVAR}").parse().expect("uri"));
        r.headers.push(HeaderName::From, "<sip:+4512345678@provider.example>;tag=c1");
        r.headers.push(HeaderName::To, "<sip:+4570102002@provider.example>");
        r.headers.push(HeaderName::CallId, "sim-call-1");
        r.headers.push(HeaderName::CSeq, "1 INVITE");
        r.headers.push(HeaderName::Contact, format!("<sip:trunk@{TRUNK}>"));
        let offer = if self.anchored { CALLER_SDP.as_bytes() } else { b"v=0\r\n" };
        r.set_body(Some("application/sdp"), bytes::Bytes::from_static(offer));
        let tx = self.caller.send_request(self.now, r.clone(), Peer::udp(addr(SVAR))).expect("send");
        self.caller_invite = Some((tx, r));
        if let Caller::CancelAfter(ms) = self.caller_plan {
            self.caller_actions.push((self.now + Duration::from_millis(ms), "cancel"));
        }
    }

    fn drain(&mut self) {
        let now = self.now;
        while let Some(o) = self.pbx.poll_output() {
            match o {
                PbxOutput::Transmit { peer, data } => {
                    self.flight.push((now + Duration::from_millis(5), Peer::udp(addr(SVAR)), peer.addr, data))
                }
                PbxOutput::Persist(Persist::CallRecord(r)) => self.records.push(r),
                PbxOutput::Persist(Persist::Binding(_)) => {}
                PbxOutput::Media(op) => self.media_ops.push(op),
                PbxOutput::Recording(pbx::ivr_setup::Recording::Message(m)) => self.messages.push(m),
                PbxOutput::Recording(pbx::ivr_setup::Recording::Conversation(c)) => self.conversations.push(c),
                PbxOutput::Recording(pbx::ivr_setup::Recording::Withdrawn(c)) => self.withdrawals.push(c),
            }
        }
        while let Some(o) = self.caller.poll_output() {
            match o {
                Output::Transmit { peer, data } => {
                    self.flight.push((now + Duration::from_millis(5), Peer::udp(addr(TRUNK)), peer.addr, data))
                }
                Output::Event(e) => self.caller_event(e),
            }
        }
        for i in 0..self.phones.len() {
            while let Some(o) = self.phones[i].ep.poll_output() {
                let from = Peer::udp(self.phones[i].addr);
                match o {
                    Output::Transmit { peer, data } => {
                        self.flight.push((now + Duration::from_millis(5), from, peer.addr, data))
                    }
                    Output::Event(e) => self.phone_event(i, e),
                }
            }
        }
    }

    fn caller_event(&mut self, e: Event) {
        match e {
            Event::Response { response, core, .. }
                if core.cseq.method == Method::Invite && core.cseq.seq == 1 && response.status >= 200 =>
            {
                self.caller_finals.push(response.status);
                if response.status < 300 {
                    self.caller_answer = Some(response.body.clone());
                    let Some((_, req)) = &self.caller_invite else { return };
                    let d = Dialog::as_uac(req, &response, &core, Peer::udp(addr(SVAR)));
                    let ack = d.make_ack(1, &format!("<sip:trunk@{TRUNK}>"));
                    let _ = self.caller.send_ack(ack, Peer::udp(addr(SVAR)), None);
                    self.caller_dialog = Some(d);
                    match self.caller_plan {
                        Caller::HangUpAfter(ms) => {
                            self.caller_actions.push((self.now + Duration::from_millis(ms), "bye"))
                        }
                        // CANCEL lost the race with 200: ACK, then BYE at once (RFC 3261 §9.1)
                        Caller::CancelAfter(_) => self.caller_actions.push((self.now, "bye")),
                        Caller::WaitForCalleeBye => {}
                    }
                }
            }
            Event::Request { tx, request, core, .. } if request.method == Method::Invite && core.to.tag().is_none() => {
                // svar calls out through the trunk: the far end answers at once
                let now = self.now;
                self.trunk_calls.push((request.uri.to_string(), core.from.addr().expect("From").uri.to_string()));
                let mut ok = Response::to_request(&request, 200);
                ok.headers.push(HeaderName::Contact, format!("<sip:far@{TRUNK}>"));
                ok.set_body(Some("application/sdp"), phone_sdp(addr(TRUNK).ip(), "sendrecv"));
                let _ = self.caller.respond(now, tx, ok);
            }
            Event::Request { tx, request, .. } => {
                // BYE from svar (callee hung up, or a drain), or a relayed re-INVITE
                let now = self.now;
                self.caller_requests.push(request.method.clone());
                let status = if request.method == Method::Invite && self.caller_reinvite_pending { 491 } else { 200 };
                let _ = self.caller.respond(now, tx, Response::to_request(&request, status));
                if request.method == Method::Bye {
                    self.caller_dialog = None;
                }
            }
            Event::Response { response, core, .. }
                if response.status >= 200 && matches!(core.cseq.method, Method::Info | Method::Update) =>
            {
                self.caller_other_finals.push((core.cseq.method.clone(), response.status));
            }
            Event::Response { response, core, .. } if core.cseq.method == Method::Invite && core.cseq.seq > 1 => {
                // the answer to our re-INVITE
                self.caller_reinvite_pending = false;
                self.caller_reinvite_finals.push(response.status);
                if (200..300).contains(&response.status)
                    && let Some(d) = &self.caller_dialog
                {
                    let mut ack = d.make_ack(core.cseq.seq, "<sip:trunk@192.0.2.50>");
                    if self.caller_reinvite_without_sdp && !response.body.is_empty() {
                        // the answer to the offer in the 2xx (RFC 3264 §5)
                        ack.set_body(Some("application/sdp"), bytes::Bytes::from(CALLER_SDP));
                    }
                    self.caller_reinvite_answer = Some(response.body.clone());
                    let _ = self.caller.send_ack(ack, Peer::udp(addr(SVAR)), None);
                }
            }
            _ => {}
        }
    }

    fn phone_event(&mut self, i: usize, e: Event) {
        let now = self.now;
        let p = &mut self.phones[i];
        match e {
            Event::Request { tx, request, core, .. } if request.method == Method::Invite && core.to.tag().is_none() => {
                p.seen.push((Method::Invite, request.body.clone()));
                match p.behaviour {
                    Callee::AnswerAfter(ms) => {
                        let mut r = Response::to_request(&request, 180);
                        let _ = r.ensure_to_tag(&format!("p{i}"));
                        let _ = p.ep.respond(now, tx, r);
                        p.pending.push((now + Duration::from_millis(ms), tx, request));
                        let _ = core;
                    }
                    Callee::Busy | Callee::Decline => {
                        let status = if p.behaviour == Callee::Busy { 486 } else { 603 };
                        let _ = p.ep.respond(now, tx, Response::to_request(&request, status));
                    }
                    Callee::RingForever => {
                        let mut r = Response::to_request(&request, 180);
                        let _ = r.ensure_to_tag(&format!("p{i}"));
                        let _ = p.ep.respond(now, tx, r);
                        p.ringing.push((tx, request));
                    }
                    Callee::Silent => {}
                }
            }
            Event::Request { tx, request, .. } => {
                // BYE, or a relayed re-INVITE / UPDATE / INFO
                let mut r = Response::to_request(&request, 200);
                if request.method == Method::Invite {
                    let body = if request.body.is_empty() {
                        // a re-INVITE without SDP: the phone makes the offer
                        phone_sdp(p.addr.ip(), "sendrecv")
                    } else if request.body.windows(8).any(|w| w == b"sendonly") {
                        phone_sdp(p.addr.ip(), "recvonly")
                    } else {
                        bytes::Bytes::from_static(b"v=0\r\ns=phone\r\n")
                    };
                    r.set_body(Some("application/sdp"), body);
                }
                let _ = p.ep.respond(now, tx, r);
                if request.method == Method::Bye {
                    p.dialogs.clear();
                }
                p.seen.push((request.method.clone(), request.body.clone()));
            }
            Event::Ack { request, .. } => p.seen.push((Method::Ack, request.body.clone())),
            Event::Response { response, .. } => self.phone_statuses_seen.push(response.status),
            Event::Cancelled { invite } => {
                if let Some(pos) = p.pending.iter().position(|(_, t, _)| *t == invite) {
                    let (_, tx, req) = p.pending.remove(pos);
                    let _ = p.ep.respond(now, tx, Response::to_request(&req, 487));
                } else if let Some(pos) = p.ringing.iter().position(|(t, _)| *t == invite) {
                    let (tx, req) = p.ringing.remove(pos);
                    let _ = p.ep.respond(now, tx, Response::to_request(&req, 487));
                }
            }
            _ => {}
        }
    }

    fn step_until(&mut self, until: Duration) {
        let end = self.t0 + until;
        loop {
            self.drain();
            let mut next = end;
            for (t, ..) in &self.flight {
                next = next.min(*t);
            }
            for t in [self.pbx.poll_timeout(), self.caller.poll_timeout()].into_iter().flatten() {
                next = next.min(t);
            }
            for p in &self.phones {
                if let Some(t) = p.ep.poll_timeout() {
                    next = next.min(t);
                }
                for (t, ..) in &p.pending {
                    next = next.min(*t);
                }
                for (t, _) in &p.dialogs {
                    next = next.min(*t);
                }
            }
            for (t, _) in &self.caller_actions {
                next = next.min(*t);
            }
            if next >= end {
                self.now = end;
                break;
            }
            self.now = next.max(self.now);
            let now = self.now;
            let wall = self.wall();
            let (due, rest): (Vec<_>, Vec<_>) = self.flight.drain(..).partition(|f| f.0 <= now);
            self.flight = rest;
            for (_, from, to, data) in due {
                if to == addr(SVAR) {
                    self.pbx.handle_input(Input::Datagram { now, peer: from, data: &data }, wall);
                } else if to == addr(TRUNK) {
                    self.caller.handle_input(Input::Datagram { now, peer: from, data: &data });
                } else if let Some(p) = self.phones.iter_mut().find(|p| p.addr == to) {
                    p.ep.handle_input(Input::Datagram { now, peer: from, data: &data });
                }
            }
            self.pbx.handle_input(Input::Timeout(now), wall);
            self.caller.handle_input(Input::Timeout(now));
            for p in &mut self.phones {
                p.ep.handle_input(Input::Timeout(now));
                let due: Vec<_> = p.pending.iter().filter(|(t, ..)| *t <= now).cloned().collect();
                p.pending.retain(|(t, ..)| *t > now);
                for (_, tx, req) in due {
                    let mut r = Response::to_request(&req, 200);
                    r.set_body(Some("application/sdp"), phone_sdp(p.addr.ip(), "sendrecv"));
                    let _ = r.ensure_to_tag(&format!("p{}", p.addr.ip()));
                    r.headers.push(HeaderName::Contact, format!("<sip:1002@{}>", p.addr));
                    if p.ep.respond(now, tx, r.clone()).is_ok() {
                        if let Ok(core) = req.core() {
                            let mut d =
                                Dialog::as_uas(&req, &core, &format!("p{}", p.addr.ip()), Peer::udp(addr(SVAR)), true);
                            d.remote_target = format!("sip:svar@{SVAR}").parse().expect("uri");
                            p.answered = Some(d);
                        }
                        if let (Some(ms), Ok(core)) = (p.hangs_up_after, req.core()) {
                            let mut d =
                                Dialog::as_uas(&req, &core, &format!("p{}", p.addr.ip()), Peer::udp(addr(SVAR)), true);
                            d.remote_target = format!("sip:svar@{SVAR}").parse().expect("uri");
                            p.dialogs.push((now + Duration::from_millis(ms), d));
                        }
                    }
                }
                let hang: Vec<_> = p.dialogs.iter().filter(|(t, _)| *t <= now).cloned().collect();
                p.dialogs.retain(|(t, _)| *t > now);
                for (_, mut d) in hang {
                    let bye = d.make_request(Method::Bye, "<sip:x>");
                    let _ = p.ep.send_request(now, bye, Peer::udp(addr(SVAR)));
                }
            }
            let acts: Vec<_> = self.caller_actions.iter().filter(|(t, _)| *t <= now).cloned().collect();
            self.caller_actions.retain(|(t, _)| *t > now);
            for (_, a) in acts {
                match a {
                    "reinvite" => {
                        if let Some(d) = self.caller_dialog.as_mut() {
                            let mut r = d.make_request(Method::Invite, &format!("<sip:trunk@{TRUNK}>"));
                            let body = if self.anchored {
                                bytes::Bytes::from(CALLER_SDP.replace("sendrecv", "sendonly"))
                            } else {
                                bytes::Bytes::from_static(b"v=0\r\na=sendonly\r\n")
                            };
                            r.set_body(Some("application/sdp"), body);
                            self.caller_reinvite_pending = true;
                            let _ = self.caller.send_request(now, r, Peer::udp(addr(SVAR)));
                        }
                    }
                    "reinvite-without-sdp" => {
                        if let Some(d) = self.caller_dialog.as_mut() {
                            let r = d.make_request(Method::Invite, &format!("<sip:trunk@{TRUNK}>"));
                            self.caller_reinvite_pending = true;
                            self.caller_reinvite_without_sdp = true;
                            let _ = self.caller.send_request(now, r, Peer::udp(addr(SVAR)));
                        }
                    }
                    "resume" => {
                        if let Some(d) = self.caller_dialog.as_mut() {
                            let mut r = d.make_request(Method::Invite, &format!("<sip:trunk@{TRUNK}>"));
                            r.set_body(Some("application/sdp"), bytes::Bytes::from(CALLER_SDP));
                            self.caller_reinvite_pending = true;
                            let _ = self.caller.send_request(now, r, Peer::udp(addr(SVAR)));
                        }
                    }
                    "info" | "update" => {
                        if let Some(d) = self.caller_dialog.as_mut() {
                            let m = if a == "info" { Method::Info } else { Method::Update };
                            let mut r = d.make_request(m, &format!("<sip:trunk@{TRUNK}>"));
                            if a == "info" {
                                r.set_body(
                                    Some("application/dtmf-relay"),
                                    bytes::Bytes::from_static(b"Signal=5\r\nDuration=160\r\n"),
                                );
                            }
                            let _ = self.caller.send_request(now, r, Peer::udp(addr(SVAR)));
                        }
                    }
                    "phone-reinvite" => {
                        if let Some(p) = self.phones.iter_mut().find(|p| p.answered.is_some())
                            && let Some(d) = p.answered.as_mut()
                        {
                            let mut r = d.make_request(Method::Invite, "<sip:1002@192.0.2.10>");
                            r.set_body(Some("application/sdp"), bytes::Bytes::from_static(b"v=0\r\na=recvonly\r\n"));
                            let _ = p.ep.send_request(now, r, Peer::udp(addr(SVAR)));
                        }
                    }
                    "cancel" => {
                        if let Some((tx, _)) = &self.caller_invite {
                            let _ = self.caller.send_cancel(now, *tx);
                        }
                    }
                    _ => {
                        if let Some(mut d) = self.caller_dialog.take() {
                            let bye = d.make_request(Method::Bye, "<sip:x>");
                            let _ = self.caller.send_request(now, bye, Peer::udp(addr(SVAR)));
                        }
                    }
                }
            }
        }
        self.drain();
    }
}

fn run(seed: u64, callees: &[(Callee, Option<u64>)], caller: Caller) -> World {
    let mut w = World::new(seed, callees, caller);
    w.start_call();
    w.step_until(Duration::from_secs(120));
    w
}

#[test]
fn answered_call_caller_hangs_up() {
    let w = run(1, &[(Callee::AnswerAfter(500), None)], Caller::HangUpAfter(2000));
    assert_eq!(w.records.len(), 1);
    assert_eq!((w.records[0].outcome, w.records[0].hangup_by), (Outcome::Answered, Some(Party::Caller)));
    assert_eq!(w.caller_finals, vec![200]);
    assert_eq!(w.pbx.active_calls(), 0);
}

#[test]
fn callee_hangs_up_and_caller_gets_bye() {
    let w = run(2, &[(Callee::AnswerAfter(100), Some(1000))], Caller::WaitForCalleeBye);
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].hangup_by, Some(Party::Callee));
    assert!(w.caller_dialog.is_none(), "caller got svar's BYE");
}

#[test]
fn parallel_forks_first_answer_wins_and_losers_are_cancelled() {
    let w = run(
        3,
        &[(Callee::AnswerAfter(3000), None), (Callee::AnswerAfter(500), None), (Callee::RingForever, None)],
        Caller::HangUpAfter(1000),
    );
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].outcome, Outcome::Answered);
    // the slower phone never answered: it was cancelled (its pending answer is gone)
    assert!(w.phones[0].pending.is_empty());
    assert_eq!(w.pbx.active_calls(), 0);
}

#[test]
fn busy_beats_silence_and_decline() {
    let w = run(4, &[(Callee::Busy, None), (Callee::Silent, None)], Caller::WaitForCalleeBye);
    assert_eq!(w.caller_finals, vec![486]);
    assert_eq!(w.records[0].outcome, Outcome::Busy);
    let w = run(5, &[(Callee::Decline, None)], Caller::WaitForCalleeBye);
    assert_eq!(w.caller_finals, vec![603]);
}

#[test]
fn ringing_without_answer_times_out_as_no_answer() {
    let w = run(6, &[(Callee::RingForever, None)], Caller::WaitForCalleeBye);
    assert_eq!(w.caller_finals, vec![480]);
    assert_eq!(w.records[0].outcome, Outcome::NoAnswer);
    // the ring timeout is 20 s
    assert!(w.records[0].ended_ms >= 20_000 && w.records[0].ended_ms < 21_000, "{}", w.records[0].ended_ms);
}

#[test]
fn silent_phone_is_unavailable_after_timer_b() {
    let w = run(7, &[(Callee::Silent, None)], Caller::WaitForCalleeBye);
    // the ring timeout (20 s) comes before Timer B (32 s): 480
    assert_eq!(w.caller_finals, vec![480]);
    assert_eq!(w.records.len(), 1);
}

#[test]
fn caller_cancel_reaches_every_fork() {
    let w = run(8, &[(Callee::AnswerAfter(5000), None), (Callee::AnswerAfter(6000), None)], Caller::CancelAfter(1000));
    assert_eq!(w.caller_finals, vec![487]);
    assert_eq!(w.records[0].outcome, Outcome::Cancelled);
    assert!(w.phones.iter().all(|p| p.pending.is_empty()), "every fork got its CANCEL");
}

fn callee() -> impl Strategy<Value = (Callee, Option<u64>)> {
    (
        prop_oneof![
            (0u64..8000).prop_map(Callee::AnswerAfter),
            Just(Callee::Busy),
            Just(Callee::Decline),
            Just(Callee::RingForever),
            Just(Callee::Silent),
        ],
        proptest::option::of(0u64..5000),
    )
}

fn caller() -> impl Strategy<Value = Caller> {
    prop_oneof![
        (0u64..5000).prop_map(Caller::HangUpAfter),
        (0u64..25000).prop_map(Caller::CancelAfter),
        Just(Caller::WaitForCalleeBye)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn every_call_leaves_exactly_one_record_and_nothing_active(
        seed in any::<u64>(),
        callees in proptest::collection::vec(callee(), 1..4),
        plan in caller(),
    ) {
        // a caller who waits for the callee's BYE needs callees who hang up eventually
        let callees: Vec<_> = callees
            .into_iter()
            .map(|(b, hang)| (b, if plan == Caller::WaitForCalleeBye { hang.or(Some(3000)) } else { hang }))
            .collect();
        let w = run(seed, &callees, plan);
        prop_assert_eq!(w.records.len(), 1, "records: {:?}", w.records);
        prop_assert_eq!(w.pbx.active_calls(), 0);
        prop_assert_eq!(w.pbx.tracked_requests(), 0, "call control forgets an ended call's requests");
        prop_assert_eq!(w.caller_finals.len(), 1, "caller finals {:?}", w.caller_finals);
        let r = &w.records[0];
        let answered = w.caller_finals[0] == 200;
        prop_assert_eq!(r.outcome == Outcome::Answered, answered);
        prop_assert_eq!(r.answered_ms.is_some(), answered);
        prop_assert!(r.started_ms <= r.ended_ms);
        if !answered {
            prop_assert_eq!(r.status, w.caller_finals[0]);
        }
    }
}

#[test]
fn reinvite_from_the_caller_is_relayed_with_its_sdp_and_answered() {
    let mut w = World::new(30, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(5000));
    w.start_call();
    w.step_until(Duration::from_secs(1));
    let at = w.now;
    w.caller_actions.push((at, "reinvite"));
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.caller_reinvite_finals, vec![200]);
    let relayed =
        w.phones[0].seen.iter().filter(|(m, _)| *m == Method::Invite).nth(1).expect("the callee got the re-INVITE");
    assert_eq!(&relayed.1[..], b"v=0\r\na=sendonly\r\n", "SDP relayed as-is");
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].outcome, Outcome::Answered);
}

#[test]
fn reinvite_glare_gets_491() {
    let mut w = World::new(31, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(8000));
    w.start_call();
    w.step_until(Duration::from_secs(1));
    let at = w.now;
    // both ends change the session at the same moment (RFC 3261 §14.1)
    w.caller_actions.push((at, "reinvite"));
    w.caller_actions.push((at, "phone-reinvite"));
    w.step_until(Duration::from_secs(60));
    let glare = w.phone_statuses_seen.contains(&491) || w.caller_reinvite_finals.contains(&491);
    assert!(
        glare,
        "one side must get 491: phone saw {:?}, caller got {:?}",
        w.phone_statuses_seen, w.caller_reinvite_finals
    );
    assert_eq!(w.records.len(), 1, "the call survives glare and ends normally");
    assert_eq!(w.pbx.active_calls(), 0);
}

#[test]
fn info_and_update_are_relayed_to_the_other_leg() {
    let mut w = World::new(32, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(5000));
    w.start_call();
    w.step_until(Duration::from_secs(1));
    let at = w.now;
    w.caller_actions.push((at, "info"));
    w.caller_actions.push((at + Duration::from_millis(200), "update"));
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.caller_other_finals, vec![(Method::Info, 200), (Method::Update, 200)]);
    let info = w.phones[0].seen.iter().find(|(m, _)| *m == Method::Info).expect("the callee got the INFO");
    assert_eq!(&info.1[..], b"Signal=5\r\nDuration=160\r\n", "body relayed as-is");
    assert!(w.phones[0].seen.iter().any(|(m, _)| *m == Method::Update));
    assert_eq!(w.records.len(), 1);
}

// ---- anchored media ----------------------------------------------------------------

fn body_text(b: &bytes::Bytes) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8")
}

fn opened(w: &World) -> Vec<(u64, (u16, u16))> {
    w.media_ops
        .iter()
        .filter_map(|o| match o {
            MediaOp::Open { call, ports, .. } => Some((*call, *ports)),
            _ => None,
        })
        .collect()
}

fn closed(w: &World) -> Vec<u64> {
    w.media_ops
        .iter()
        .filter_map(|o| match o {
            MediaOp::Close { call } => Some(*call),
            _ => None,
        })
        .collect()
}

fn streams(w: &World, leg: media::relay::Leg) -> Vec<media::relay::LegStream> {
    w.media_ops
        .iter()
        .filter_map(|o| match o {
            MediaOp::Stream { leg: l, stream, .. } if *l == leg => Some(*stream),
            _ => None,
        })
        .collect()
}

#[test]
fn an_anchored_call_names_svars_ports_to_both_sides_and_bridges_the_agreed_codec() {
    let w = {
        let mut w = World::with_media(40, &[(Callee::AnswerAfter(300), None)], Caller::HangUpAfter(2000), true);
        w.start_call();
        w.step_until(Duration::from_secs(60));
        w
    };
    let open = opened(&w);
    assert_eq!(open.len(), 1);
    let (call, (pa, pb)) = open[0];
    let invite = body_text(&w.phones[0].seen[0].1);
    assert!(invite.contains("c=IN IP4 192.0.2.1"), "the callee is offered svar's address: {invite}");
    assert!(invite.contains(&format!("m=audio {pb} RTP/AVP 8 0 101")), "{invite}");
    assert!(!invite.contains("198.51.100.7"), "nothing of the caller's address: {invite}");
    let answer = body_text(w.caller_answer.as_ref().expect("answered"));
    assert!(answer.contains(&format!("m=audio {pa} RTP/AVP 8 101")), "{answer}");
    assert!(!answer.contains("192.0.2.10"), "nothing of the callee's address: {answer}");
    // after the answer both legs are watched, in PCMA, each towards its own phone
    let a = *streams(&w, media::relay::Leg::A).last().expect("leg A negotiated");
    let b = *streams(&w, media::relay::Leg::B).last().expect("leg B negotiated");
    assert_eq!((a.codec, a.payload_type, a.dtmf_payload_type, a.watch), (sdp::Codec::Pcma, 8, Some(101), true));
    assert_eq!(a.remote, Some(addr("198.51.100.7:5004")));
    assert_eq!((b.codec, b.watch, b.remote), (sdp::Codec::Pcma, true, Some(addr("192.0.2.10:6000"))));
    assert_eq!(closed(&w), vec![call], "closed once when the call ended");
    assert_eq!(w.pbx.media_ports_in_use(), 0);
}

#[test]
fn a_dead_call_is_ended_by_the_media_timeout_and_its_record_says_so() {
    let mut w = World::with_media(41, &[(Callee::AnswerAfter(100), None)], Caller::WaitForCalleeBye, true);
    w.start_call();
    w.step_until(Duration::from_secs(2));
    let (call, _) = opened(&w)[0];
    w.media(MediaEvent::Timeout { call, leg: media::relay::Leg::A });
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].hangup_by, Some(Party::MediaTimeout));
    assert!(w.caller_requests.contains(&Method::Bye), "the caller got svar's BYE");
    assert!(w.phones[0].seen.iter().any(|(m, _)| *m == Method::Bye), "the callee got svar's BYE");
    assert_eq!(closed(&w), vec![call]);
    assert_eq!(w.pbx.media_ports_in_use(), 0);
}

#[test]
fn media_that_cannot_be_opened_ends_the_call_and_sets_its_ports_aside() {
    let mut w = World::with_media(42, &[(Callee::AnswerAfter(500), None)], Caller::WaitForCalleeBye, true);
    w.start_call();
    w.step_until(Duration::from_millis(100));
    let (call, _) = opened(&w)[0];
    let error = "cannot bind RTP ports 40000/40002: Address already in use".to_owned();
    w.media(MediaEvent::Failed { call, error });
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.records.len(), 1, "one record");
    assert_eq!((w.records[0].outcome, w.records[0].status), (Outcome::Failed, 503), "{:?}", w.records[0]);
    assert_eq!(closed(&w), vec![call], "the driver is told to close once");
    assert_eq!((w.pbx.media_ports_in_use(), w.pbx.media_ports_set_aside()), (0, 1), "out of rotation, not resting");
}

#[test]
fn hold_is_relayed_anchored_and_the_held_side_is_not_watched() {
    let mut w = World::with_media(42, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(5000), true);
    w.start_call();
    w.step_until(Duration::from_secs(1));
    let at = w.now;
    w.caller_actions.push((at, "reinvite"));
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.caller_reinvite_finals, vec![200]);
    let (_, (_, pb)) = opened(&w)[0];
    let reinvite = w.phones[0].seen.iter().filter(|(m, _)| *m == Method::Invite).nth(1).expect("re-INVITE relayed");
    let text = body_text(&reinvite.1);
    assert!(text.contains("a=sendonly") && text.contains(&format!("m=audio {pb} ")), "{text}");
    // the caller still sends (sendonly); the callee answered recvonly and sends nothing
    let b = *streams(&w, media::relay::Leg::B).last().expect("B");
    let a = *streams(&w, media::relay::Leg::A).last().expect("A");
    assert!(a.watch && !b.watch, "A {a:?} B {b:?}");
}

#[test]
fn an_offer_without_a_codec_svar_speaks_gets_488_and_holds_no_ports() {
    let mut w = World::with_media(43, &[(Callee::AnswerAfter(100), None)], Caller::WaitForCalleeBye, true);
    let g729 = CALLER_SDP
        .replace("RTP/AVP 8 0 101", "RTP/AVP 18")
        .replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:18 G729/8000\r\n");
    let mut r = Request::new(Method::Invite, format!("sip:+4570102002@{SVAR}").parse().expect("uri"));
    r.headers.push(HeaderName::From, "<sip:+4512345678@provider.example>;tag=c1");
    r.headers.push(HeaderName::To, "<sip:+4570102002@provider.example>");
    r.headers.push(HeaderName::CallId, "sim-call-g729");
    r.headers.push(HeaderName::CSeq, "1 INVITE");
    r.headers.push(HeaderName::Contact, format!("<sip:trunk@{TRUNK}>"));
    r.set_body(Some("application/sdp"), bytes::Bytes::from(g729));
    let tx = w.caller.send_request(w.now, r.clone(), Peer::udp(addr(SVAR))).expect("send");
    w.caller_invite = Some((tx, r));
    w.step_until(Duration::from_secs(40));
    assert_eq!(w.caller_finals, vec![488]);
    assert_eq!(w.records.len(), 1);
    assert!(opened(&w).is_empty() && w.pbx.media_ports_in_use() == 0);
    assert!(w.phones[0].seen.is_empty(), "no callee rang");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    #[test]
    fn every_anchored_call_gives_its_ports_back_whatever_happens(
        seed in any::<u64>(),
        callees in proptest::collection::vec(callee(), 1..4),
        plan in caller(),
    ) {
        let callees: Vec<_> = callees
            .into_iter()
            .map(|(b, hang)| (b, if plan == Caller::WaitForCalleeBye { hang.or(Some(3000)) } else { hang }))
            .collect();
        let mut w = World::with_media(seed, &callees, plan, true);
        w.start_call();
        w.step_until(Duration::from_secs(120));
        prop_assert_eq!(w.records.len(), 1);
        let open: Vec<u64> = opened(&w).into_iter().map(|(c, _)| c).collect();
        prop_assert_eq!(open, closed(&w), "every Open has its Close");
        prop_assert_eq!(w.pbx.media_ports_in_use(), 0);
    }
}

// ---- the IVR on live calls ------------------------------------------------------------

#[test]
fn the_ivr_answers_itself_and_key_1_puts_the_caller_through_with_ringback_then_bridged() {
    let mut w = World::with_ivr(50, &[(Callee::AnswerAfter(2000), None)], Caller::HangUpAfter(3000));
    w.start_call();
    w.step_until(Duration::from_millis(200));
    assert_eq!(w.caller_finals, vec![200], "svar answered the main number itself");
    let answer = body_text(w.caller_answer.as_ref().expect("answer"));
    let (call, (pa, _)) = opened(&w)[0];
    assert!(answer.contains(&format!("m=audio {pa} RTP/AVP 8 101")), "svar's own answer: {answer}");
    assert!(w.phones[0].seen.is_empty(), "nobody rings while the caller is in the menu");
    assert_eq!(w.feeds(), vec!["playing"], "the menu prompt plays");
    w.key(call, '1');
    w.step_until(Duration::from_millis(400));
    let invite = body_text(&w.phones[0].seen.first().expect("1002's phone rings").1);
    assert!(
        invite.contains("o=svar ") && invite.contains("a=rtpmap:101 telephone-event/8000"),
        "svar's own offer: {invite}"
    );
    assert_eq!(w.feeds(), vec!["playing", "silence", "playing"], "barge-in stopped the prompt; ringback plays");
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.feeds(), vec!["playing", "silence", "playing", "bridged"], "bridged on answer");
    let b = *streams(&w, media::relay::Leg::B).last().expect("B negotiated");
    assert_eq!((b.codec, b.watch), (sdp::Codec::Pcma, true));
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].outcome, Outcome::Answered);
    let flow = w.records[0].flow.clone().expect("the call flow is kept with the record");
    let steps: Vec<&str> = flow.lines().map(|l| l.split_once(' ').map_or(l, |x| x.1)).collect();
    assert_eq!(
        steps,
        vec![
            "entered hoved",
            "played velkommen",
            "key 1",
            "routed user:1002",
            "ringing user:1002 on 1 phone(s)",
            "answered by 1002"
        ],
        "{flow}"
    );
    assert!(flow.lines().all(|l| l.starts_with('+')), "{flow}");
    assert_eq!(closed(&w), vec![call]);
    assert_eq!(w.pbx.media_ports_in_use(), 0);
    assert!(w.messages.is_empty());
}

#[test]
fn a_target_that_does_not_answer_becomes_a_message_even_when_the_caller_hangs_up_mid_message() {
    let mut w = World::with_ivr(51, &[(Callee::RingForever, None)], Caller::HangUpAfter(40_000));
    w.start_call();
    w.step_until(Duration::from_millis(200));
    let (call, _) = opened(&w)[0];
    w.key(call, '1');
    // the transfer rings for 10 s, then "leave a message" plays and recording starts
    w.step_until(Duration::from_secs(11));
    assert!(w.phones[0].pending.is_empty() && w.phones[0].ringing.is_empty(), "the ringing phone was cancelled");
    assert_eq!(w.feeds().last(), Some(&"playing"), "indtal-besked");
    w.media(MediaEvent::PlaybackDone { call, leg: media::relay::Leg::A });
    assert_eq!(w.feeds().last(), Some(&"record"));
    // the caller hangs up while talking; the media reports the recording when it closes
    w.step_until(Duration::from_secs(50));
    assert_eq!(closed(&w), vec![call]);
    assert!(!w.pbx.is_idle(), "a shutdown waits for the message still on its way from the media");
    w.media(MediaEvent::Recorded {
        call,
        leg: media::relay::Leg::A,
        ended: media::record::Ended::Hangup,
        length: Duration::from_secs(7),
        wav: vec![1, 2, 3],
    });
    assert!(w.pbx.is_idle(), "and no longer once it has arrived");
    assert_eq!(w.messages.len(), 1, "the message is kept");
    let m = &w.messages[0];
    assert_eq!(
        (m.owner.as_str(), m.caller.as_str(), m.wav.as_slice()),
        ("employee:1002", "+4512345678", &[1u8, 2, 3][..])
    );
    assert_eq!(w.records.len(), 1);
}

#[test]
fn an_extension_without_a_phone_goes_straight_to_a_message_and_svar_says_thanks_and_hangs_up() {
    let mut w = World::with_ivr(52, &[(Callee::AnswerAfter(100), None)], Caller::WaitForCalleeBye);
    w.start_call();
    w.step_until(Duration::from_millis(200));
    let (call, _) = opened(&w)[0];
    w.key(call, '2');
    w.media(MediaEvent::PlaybackDone { call, leg: media::relay::Leg::A });
    assert_eq!(w.feeds().last(), Some(&"record"));
    w.media(MediaEvent::Recorded {
        call,
        leg: media::relay::Leg::A,
        ended: media::record::Ended::Key,
        length: Duration::from_secs(4),
        wav: vec![9],
    });
    assert_eq!(w.messages.len(), 1);
    assert_eq!(w.messages[0].owner, "employee:1003");
    assert_eq!(w.feeds().last(), Some(&"playing"), "tak for beskeden");
    w.media(MediaEvent::PlaybackDone { call, leg: media::relay::Leg::A });
    w.step_until(Duration::from_secs(30));
    assert!(w.caller_requests.contains(&Method::Bye), "svar hung up after the thanks");
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].hangup_by, Some(Party::System));
    assert!(w.phones[0].seen.is_empty(), "nobody rang");
}

#[test]
fn silence_in_the_menu_ends_at_the_switchboard_never_a_hang_up() {
    let mut w = World::with_ivr(53, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(60_000));
    w.start_call();
    w.step_until(Duration::from_millis(200));
    let (call, _) = opened(&w)[0];
    // the prompt ends; no key for 5 s, twice (one retry): the fallback is the operator
    for _ in 0..2 {
        w.media(MediaEvent::PlaybackDone { call, leg: media::relay::Leg::A });
        let until = w.now - w.t0 + Duration::from_secs(6);
        w.step_until(until);
    }
    // the switchboard has nobody registered in this world: a message for it instead
    w.media(MediaEvent::PlaybackDone { call, leg: media::relay::Leg::A });
    assert_eq!(w.feeds().last(), Some(&"record"), "feeds: {:?}", w.feeds());
    w.media(MediaEvent::Recorded {
        call,
        leg: media::relay::Leg::A,
        ended: media::record::Ended::Silence,
        length: Duration::from_secs(3),
        wav: vec![],
    });
    assert_eq!(w.messages[0].owner, "department:omstillingen");
}

#[test]
fn a_closed_department_takes_its_closed_path_on_a_live_call() {
    // The simulation's wall clock starts at the Unix epoch: Thursday 1 January 1970, 01:00
    // in Copenhagen, when the switchboard (09–17 on Thursdays) is closed.
    let mut w = World::with_ivr(54, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(60_000));
    let menu = ivr::RawMenu {
        open: Some(ivr::RawOpen { department: "omstillingen".into(), closed: "record:department:omstillingen".into() }),
        ..main_menu(&[("1", "user:1002")])
    };
    let mut cfg_ivr = None;
    if let Some(setup) = w.pbx_ivr_setup() {
        let mut setup = setup;
        setup.menus = menus(menu);
        setup.calendar = Some(std::sync::Arc::new(pbx::ivr_setup::IvrCalendar {
            calendar: calendar::Calendar::danish_default(),
            departments: vec![calendar::Department::switchboard_default()],
            rule: calendar::DeadlineRule::default(),
            owner_departments: std::collections::HashMap::new(),
            switchboard: "omstillingen".into(),
        }));
        cfg_ivr = Some(setup);
    }
    w.replace_ivr(cfg_ivr.expect("setup"));
    w.start_call();
    w.step_until(Duration::from_millis(200));
    let (call, _) = opened(&w)[0];
    assert_eq!(w.feeds(), vec!["playing"], "indtal-besked, not the menu");
    w.media(MediaEvent::PlaybackDone { call, leg: media::relay::Leg::A });
    assert_eq!(w.feeds().last(), Some(&"record"), "closed: straight to a message");
    w.key(call, '1');
    assert!(w.phones[0].seen.is_empty(), "keys do not reach a menu that was never entered");
}

fn feeds_to(w: &World, leg: media::relay::Leg) -> Vec<&'static str> {
    w.media_ops
        .iter()
        .filter_map(|o| match o {
            MediaOp::Feed { leg: l, feed, .. } if *l == leg => Some(match feed {
                media::relay::Feed::Bridged => "bridged",
                media::relay::Feed::Playing(_) => "playing",
                media::relay::Feed::Silence => "silence",
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn the_held_party_hears_music_on_hold_until_the_holder_resumes() {
    let mut w = World::with_media(44, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(8000), true);
    w.start_call();
    w.step_until(Duration::from_secs(1));
    assert_eq!(feeds_to(&w, media::relay::Leg::B), vec!["bridged"]);
    let at = w.now;
    w.caller_actions.push((at, "reinvite"));
    w.step_until(Duration::from_secs(3));
    assert_eq!(feeds_to(&w, media::relay::Leg::B), vec!["bridged", "playing"], "B hears music while A holds");
    let at = w.now;
    w.caller_actions.push((at, "resume"));
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.caller_reinvite_finals, vec![200, 200]);
    assert_eq!(feeds_to(&w, media::relay::Leg::B), vec!["bridged", "playing", "bridged"], "back to A's voice");
    assert_eq!(feeds_to(&w, media::relay::Leg::A), vec!["bridged"], "the holder's own feed never changes");
}

#[test]
fn a_conversation_is_recorded_only_after_the_callers_key_press_consent_and_only_when_enabled() {
    for (enabled, consent, expect) in [(true, true, true), (true, false, false), (false, true, false)] {
        let mut w = World::with_ivr(60, &[(Callee::AnswerAfter(200), None)], Caller::HangUpAfter(3000));
        let mut setup = w.pbx_ivr_setup().expect("setup");
        setup.menus = menus(main_menu(&[("1", "user:1002"), ("7", "consent then user:1002")]));
        w.replace_ivr_with(setup, enabled, 60);
        w.start_call();
        w.step_until(Duration::from_millis(200));
        let (call, _) = opened(&w)[0];
        w.key(call, if consent { '7' } else { '1' });
        w.step_until(Duration::from_secs(60));
        let asked = w.media_ops.iter().any(|o| matches!(o, MediaOp::RecordConversation { .. }));
        assert_eq!(asked, expect, "enabled {enabled}, consent {consent}");
        w.media(MediaEvent::ConversationRecorded { call, length: Duration::from_secs(3), wav: vec![7] });
        assert_eq!(w.conversations.len(), usize::from(expect));
        if expect {
            let c = &w.conversations[0];
            assert_eq!((c.caller.as_str(), c.wav.as_slice()), ("+4512345678", &[7u8][..]));
            assert!(c.consent_ms >= 0 && c.consent.contains("key press"));
            let flow = w.records[0].flow.clone().expect("flow");
            assert!(flow.contains("consented") && flow.contains("recording the conversation"), "{flow}");
        }
    }
}

#[test]
fn the_caller_withdraws_consent_with_star_and_the_recording_is_discarded_not_stored() {
    let mut w = World::with_ivr(62, &[(Callee::AnswerAfter(200), None)], Caller::HangUpAfter(5000));
    let mut setup = w.pbx_ivr_setup().expect("setup");
    setup.menus = menus(main_menu(&[("7", "consent then user:1002")]));
    w.replace_ivr_with(setup, true, 62);
    w.start_call();
    w.step_until(Duration::from_millis(200));
    let (call, _) = opened(&w)[0];
    w.key(call, '7');
    w.step_until(Duration::from_secs(2));
    assert!(w.media_ops.iter().any(|o| matches!(o, MediaOp::RecordConversation { .. })), "recording with consent");
    // while talking to the employee, the caller presses *
    w.key(call, '*');
    assert!(w.media_ops.iter().any(|o| matches!(o, MediaOp::DiscardConversation { call: c } if *c == call)));
    assert_eq!(w.withdrawals.len(), 1);
    let wd = &w.withdrawals[0];
    assert_eq!(wd.caller, "+4512345678");
    assert!(wd.withdrawn_ms >= wd.consent_ms);
    // a second * is only a key for the employee's phone
    w.key(call, '*');
    assert_eq!(w.withdrawals.len(), 1);
    w.step_until(Duration::from_secs(60));
    // even if the media reported a recording, none is stored
    w.media(MediaEvent::ConversationRecorded { call, length: Duration::from_secs(3), wav: vec![7] });
    assert!(w.conversations.is_empty(), "no recording exists after withdrawal");
    let flow = w.records[0].flow.clone().expect("flow");
    assert!(flow.contains("consent withdrawn; the recording was discarded"), "{flow}");
}

/// The IVR setup of [`World::with_ivr`] with key 3 for an external number, routed out
/// through the trunk by a route that takes Danish numbers only.
fn ivr_with_external(w: &World, number: &str) -> (pbx::IvrSetup, Vec<pbx::config::OutboundRoute>) {
    let mut setup = w.pbx_ivr_setup().expect("ivr");
    setup.menus = menus(main_menu(&[("1", "user:1002"), ("3", &format!("external:{number}"))]));
    let routes = vec![pbx::config::OutboundRoute {
        name: "danmark".into(),
        patterns: vec![pbx::numbers::Pattern::parse("+45.").expect("pattern")],
        trunk: "udbyder".into(),
        strip: 3,
        prepend: String::new(),
        allow_international: false,
        allow_premium: false,
    }];
    (setup, routes)
}

/// A caller on the main number presses 3, the option for `number`; the caller hangs up
/// `hang_up_ms` after being answered.
fn caller_keys_external(seed: u64, number: &str, hang_up_ms: u64) -> World {
    let mut w = World::with_ivr(seed, &[(Callee::AnswerAfter(2000), None)], Caller::HangUpAfter(hang_up_ms));
    let (setup, routes) = ivr_with_external(&w, number);
    w.replace_ivr_with_routes(setup, routes);
    w.start_call();
    w.step_until(Duration::from_millis(200));
    let (call, _) = opened(&w)[0];
    w.key(call, '3');
    w
}

#[test]
fn an_external_target_is_dialled_through_the_trunk_and_bridged() {
    let mut w = caller_keys_external(60, "+45 33 12 34 56", 5000);
    w.step_until(Duration::from_secs(60));
    assert_eq!(
        w.trunk_calls,
        vec![("sip:33123456@192.0.2.50".to_owned(), "sip:+4570102000@egeskov.example".to_owned())],
        "one INVITE to the provider, the route's number, the municipality's caller id"
    );
    assert!(w.phones[0].seen.is_empty(), "no employee rang");
    assert_eq!(w.feeds().last(), Some(&"bridged"), "{:?}", w.feeds());
    let flow = w.records[0].flow.clone().expect("flow");
    assert!(flow.contains("routed external:+45 33 12 34 56"), "{flow}");
    assert!(flow.contains("ringing external:+45 33 12 34 56 on 1 phone(s)"), "{flow}");
    assert_eq!(w.records[0].outcome, Outcome::Answered);
    assert!(w.messages.is_empty());
}

#[test]
fn an_external_target_the_routes_refuse_becomes_a_message_not_a_toll_fraud_call() {
    // an international number: the route allows none
    let mut w = caller_keys_external(61, "+4930123456", 40_000);
    w.step_until(Duration::from_millis(400));
    assert!(w.trunk_calls.is_empty(), "nothing dialled out");
    assert_eq!(w.feeds().last(), Some(&"playing"), "leave a message");
    w.step_until(Duration::from_secs(50));
    assert!(w.trunk_calls.is_empty(), "nothing dialled out");
    let flow = w.records[0].flow.clone().expect("flow");
    assert!(flow.contains("refused: Forbidden (international calls not allowed)"), "{flow}");
    assert!(!flow.contains("ringing"), "{flow}");
}

#[test]
fn a_reinvite_without_sdp_gets_the_offer_in_the_2xx_and_the_answer_in_the_ack_on_both_legs() {
    // RFC 3264 §5 / RFC 3261 §13.2.2.4: the callee offers in its 2xx; svar's ACK to it
    // waits for the caller's ACK, which carries the answer, anchored like every SDP.
    let mut w = World::with_media(32, &[(Callee::AnswerAfter(100), None)], Caller::HangUpAfter(5000), true);
    w.start_call();
    w.step_until(Duration::from_secs(1));
    let (_, (pa, pb)) = opened(&w)[0];
    let at = w.now;
    w.caller_actions.push((at, "reinvite-without-sdp"));
    w.step_until(Duration::from_secs(3));
    assert_eq!(w.caller_reinvite_finals, vec![200]);
    let invites: Vec<&bytes::Bytes> =
        w.phones[0].seen.iter().filter(|(m, _)| *m == Method::Invite).map(|(_, b)| b).collect();
    assert_eq!(invites.len(), 2);
    assert!(invites[1].is_empty(), "the re-INVITE reached the callee without SDP");
    let offer = body_text(w.caller_answer_to_reinvite());
    assert!(offer.contains(&format!("m=audio {pa} ")), "the callee's offer, anchored on the caller's side: {offer}");
    let acks: Vec<&bytes::Bytes> = w.phones[0].seen.iter().filter(|(m, _)| *m == Method::Ack).map(|(_, b)| b).collect();
    let answer = body_text(acks.last().expect("the callee's 2xx was acknowledged"));
    assert!(answer.contains(&format!("m=audio {pb} ")), "the caller's answer in svar's ACK, anchored: {answer}");
    assert!(answer.contains("a=rtpmap:8 PCMA/8000"), "{answer}");
    w.step_until(Duration::from_secs(60));
    assert_eq!(w.records.len(), 1);
    assert_eq!(w.records[0].outcome, Outcome::Answered);
    assert!(w.pbx.media_ports_in_use() == 0);
}

/// Two phones answer 10 ms apart: the second answer crosses svar's CANCEL. Whether the
/// call has ended by then (the caller hangs up at once) or not, the late answer is ACKed,
/// hung up and forgotten: call control follows nothing once the call is over.
#[test]
fn an_answer_crossing_the_cancel_is_hung_up_and_forgotten() {
    for hang_up_after in [0, 2000] {
        let w = run(
            0,
            &[(Callee::AnswerAfter(6244), None), (Callee::AnswerAfter(6234), None)],
            Caller::HangUpAfter(hang_up_after),
        );
        assert_eq!(w.records.len(), 1);
        assert_eq!(w.records[0].outcome, Outcome::Answered);
        assert_eq!(w.pbx.active_calls(), 0);
        assert_eq!(w.pbx.tracked_requests(), 0, "hang up after {hang_up_after} ms");
        let byes = w.phones[0].seen.iter().filter(|(m, _)| *m == Method::Bye).count();
        assert_eq!(byes, 1, "the late answerer was hung up");
    }
}
