//! The transaction layer and UAS core checks as one sans-IO engine.
//!
//! Drive it like this (the `net` crate does):
//!
//! ```text
//! loop {
//!     endpoint.handle_input(Input::Datagram { now, peer, data })   // or Timeout(now)
//!     while let Some(out) = endpoint.poll_output() { transmit or dispatch event }
//!     sleep until endpoint.poll_timeout() or the next datagram
//! }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use sip_msg::{
    CSeq, Core, HeaderName, Host, Message, Method, ParseError, Request, Response, ViaField, parse_datagram,
    salvage_headers,
};

use crate::checks::{Refusal, check_request};
use crate::completed::CompletedStore;
use crate::deadlines::Deadlines;
use crate::fastmap::FastMap;
use crate::rng::IdGen;
use crate::timers::TimerConfig;
use crate::transaction::{Action, ClientTx, ServerTx};
use crate::transport::{Peer, Transport};
use crate::txindex::{Fingerprints, FpIndex};
use crate::txkey::{KeyView, MergeKey, MergeView, ServerKey};
use slotmap::{Key, KeyData, SlotMap, new_key_type};

/// Identifies a server transaction for the TU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxId(pub u64);

/// Identifies a client transaction for the TU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxId(pub u64);

/// Static configuration of an endpoint.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// T1, T2, T4.
    pub timers: TimerConfig,
    /// The address we put in Via sent-by, per transport.
    pub via_addrs: Vec<(Transport, SocketAddr)>,
    /// Methods the TU handles (others get 405 or 501 with this list in Allow).
    pub allow: Vec<Method>,
    /// Option tags we support (Require of anything else gets 420).
    pub supported: Vec<String>,
    /// Server / User-Agent header value.
    pub user_agent: String,
    /// Seed for branches and tags.
    pub seed: u64,
    /// Answer every new INVITE with 100 Trying at once (§17.2.1). A TU that always
    /// answers in the same turn (svar's B2BUA) turns this off and sends 100 itself when
    /// it starts work that takes time.
    pub auto_trying: bool,
}

impl EndpointConfig {
    /// A config with RFC default timers and the methods svar handles.
    #[must_use]
    pub fn new(via_addrs: Vec<(Transport, SocketAddr)>, seed: u64) -> Self {
        Self {
            timers: TimerConfig::default(),
            via_addrs,
            allow: vec![
                Method::Invite,
                Method::Ack,
                Method::Bye,
                Method::Cancel,
                Method::Options,
                Method::Register,
                Method::Info,
                Method::Update,
            ],
            supported: Vec::new(),
            user_agent: "svar".to_owned(),
            seed,
            auto_trying: true,
        }
    }

    /// Value for an Allow header.
    #[must_use]
    pub fn allow_header(&self) -> String {
        self.allow.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
    }
}

/// An input to the engine.
#[derive(Debug)]
pub enum Input<'a> {
    /// A datagram (UDP) or one framed stream message's bytes.
    Datagram {
        /// Receive time.
        now: Instant,
        /// Who sent it.
        peer: Peer,
        /// The bytes.
        data: &'a [u8],
    },
    /// A message already framed and parsed by a stream transport.
    Message {
        /// Receive time.
        now: Instant,
        /// Who sent it.
        peer: Peer,
        /// The message.
        message: Message,
    },
    /// The time returned by [`Endpoint::poll_timeout`] has come.
    Timeout(Instant),
    /// The transport could not deliver to `peer` (ICMP, refused connection).
    TransportError {
        /// When.
        now: Instant,
        /// The peer.
        peer: Peer,
    },
}

/// What the engine has for the driver.
#[derive(Debug)]
pub enum Output {
    /// Send bytes.
    Transmit {
        /// Destination.
        peer: Peer,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Something for the transaction user.
    Event(Event),
}

/// An output waiting in the engine's queue. Events wait apart, in their own queue, so
/// the common small `Transmit` is not moved at an event's size (a request event with its
/// parsed core is some 550 bytes), and no event is boxed: a box per request was a fresh
/// block written in full each time, where the events queue's slots are reused warm.
#[derive(Debug)]
enum Queued {
    Transmit {
        peer: Peer,
        data: Vec<u8>,
    },
    /// The next one in `Endpoint::events`.
    Event,
}

/// Events for the transaction user.
#[derive(Debug)]
pub enum Event {
    /// A new request passed the checks. Answer with [`Endpoint::respond`].
    Request {
        /// Its server transaction.
        tx: ServerTxId,
        /// The request (top Via carries `received`/`rport`).
        request: Request,
        /// Its parsed core headers.
        core: Core,
        /// Where it came from.
        source: Peer,
    },
    /// An ACK for a 2xx (it has no transaction of its own, RFC 3261 §17.2.3).
    Ack {
        /// The ACK.
        request: Request,
        /// Its core.
        core: Core,
        /// Where it came from.
        source: Peer,
    },
    /// A CANCEL matched this INVITE server transaction; the CANCEL got 200. The TU should
    /// answer the INVITE with 487 (RFC 3261 §9.2).
    Cancelled {
        /// The INVITE's transaction.
        invite: ServerTxId,
    },
    /// A response for a client transaction (2xx retransmissions included, RFC 6026).
    Response {
        /// The transaction.
        tx: ClientTxId,
        /// The response.
        response: Response,
        /// Its core.
        core: Core,
    },
    /// A 2xx for an INVITE whose transaction is gone: the TU re-sends its ACK.
    Stray2xx {
        /// The response.
        response: Response,
        /// Its core.
        core: Core,
    },
    /// Timer B/F fired or the transport failed: treat as 408.
    Timeout {
        /// The transaction.
        tx: ClientTxId,
    },
    /// A 2xx we sent was never ACKed within 64·T1 (§13.3.1.4: end the dialog).
    AckTimeout {
        /// The INVITE's transaction.
        tx: ServerTxId,
    },
    /// A message was dropped or refused; for logs and metrics.
    Rejected {
        /// Who sent it.
        peer: Peer,
        /// Stable reason code.
        code: &'static str,
        /// Status sent back, if any.
        status: Option<u16>,
    },
}

/// Errors the TU can get from a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The server transaction no longer exists or already sent a final response.
    #[error("server transaction {0:?} cannot send this response")]
    NoSuchServerTx(ServerTxId),
    /// The client transaction no longer exists.
    #[error("client transaction {0:?} does not exist")]
    NoSuchClientTx(ClientTxId),
    /// No Via address is configured for the transport.
    #[error("no local address for transport {0}")]
    NoLocalAddress(Transport),
    /// The message lacks a header the engine needs.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Counters for metrics, kept by the engine so drivers need not parse. Counted on every
/// message: the fast hasher (keys are svar's own static names and status codes).
#[derive(Debug, Default, Clone)]
pub struct EndpointStats {
    /// Requests received, by method (extension methods counted as `other`).
    pub requests_in: FastMap<&'static str, u64>,
    /// Responses sent, by status.
    pub responses_out: FastMap<u16, u64>,
    /// Responses received, by status.
    pub responses_in: FastMap<u16, u64>,
    /// Requests sent, by method.
    pub requests_out: FastMap<&'static str, u64>,
    /// Parse errors by code.
    pub parse_errors: FastMap<&'static str, u64>,
    /// Retransmissions sent.
    pub retransmissions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientKey {
    branch: String,
    method: Method,
}

impl ClientKey {
    /// Hashed as the view a response gives: (branch, method).
    fn view(&self) -> (&str, &Method) {
        (&self.branch, &self.method)
    }
}

new_key_type! {
    /// A transaction's place in its table; its 64-bit form is the TU's id.
    struct Slot;
}

fn slot(id: u64) -> Slot {
    KeyData::from_ffi(id).into()
}

fn id_of(s: Slot) -> u64 {
    s.data().as_ffi()
}

#[derive(Debug)]
struct ServerEntry {
    tx: ServerTx,
    key: ServerKey,
    key_fp: u64,
    /// The merge key, when this transaction is the one filed under it.
    merge: Option<Box<MergeKey>>,
    /// The fingerprint of `tx.ack_key`, once a 2xx was sent.
    ack_fp: Option<u64>,
}

#[derive(Debug)]
struct ClientEntry {
    tx: ClientTx,
    key: ClientKey,
    key_fp: u64,
    /// The request as sent, for the ACK of a non-2xx final and for a CANCEL; dropped
    /// when the final response arrives. Boxed so that the entries lingering through
    /// Timer D, K or M (64·T1 at 1,000 calls/s is 64,000 of them) stay small.
    request: Option<Box<Request>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TxRef {
    Client(u64),
    Server(u64),
}

/// The sans-IO SIP transaction layer.
#[derive(Debug)]
pub struct Endpoint {
    /// Our Via up to the branch's value, per transport, printed once.
    via_prefixes: Vec<(Transport, String)>,
    cfg: EndpointConfig,
    ids: IdGen,
    /// Server transactions; found by key through `server_ix`, by merge key (the first
    /// of merged requests) through `merged_ix`, and by the (Call-ID, CSeq) of a 2xx
    /// awaiting its ACK through `accepted_ix` (see `txindex`).
    servers: SlotMap<Slot, ServerEntry>,
    server_ix: FpIndex,
    merged_ix: FpIndex,
    accepted_ix: FpIndex,
    clients: SlotMap<Slot, ClientEntry>,
    client_ix: FpIndex,
    /// Non-INVITE server transactions in Completed over UDP, reduced to their response.
    completed: CompletedStore,
    fps: Fingerprints,
    /// A second fingerprint, seeded apart, that confirms a `completed` match.
    check_fps: Fingerprints,
    timers: Deadlines<TxRef>,
    out: VecDeque<Queued>,
    events: VecDeque<Event>,
    stats: EndpointStats,
}

impl Endpoint {
    /// A new engine.
    #[must_use]
    pub fn new(cfg: EndpointConfig) -> Self {
        // Our Via up to the branch value, per transport: `SIP/2.0/UDP host:port;branch=`
        let via_prefixes = cfg
            .via_addrs
            .iter()
            .map(|&(t, addr)| {
                (t, format!("SIP/2.0/{} {}:{};branch=", t.via_token(), Host::from(addr.ip()), addr.port()))
            })
            .collect();
        Self {
            via_prefixes,
            ids: IdGen::new(cfg.seed),
            servers: SlotMap::with_key(),
            server_ix: FpIndex::default(),
            merged_ix: FpIndex::default(),
            accepted_ix: FpIndex::default(),
            clients: SlotMap::with_key(),
            client_ix: FpIndex::default(),
            completed: CompletedStore::default(),
            fps: Fingerprints::new(cfg.seed),
            check_fps: Fingerprints::new(cfg.seed ^ 0x9e37_79b9_7f4a_7c15),
            cfg,
            timers: Deadlines::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            stats: EndpointStats::default(),
        }
    }

    /// Configuration.
    #[must_use]
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }

    /// Live transactions (client, server), for metrics and leak tests.
    #[must_use]
    pub fn transaction_count(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len() + self.completed.len())
    }

    /// Client transactions still waiting for a final response (a drain waits for these).
    #[must_use]
    pub fn pending_requests(&self) -> usize {
        self.clients.values().filter(|e| e.tx.awaits_final()).count()
    }

    /// The id generator, shared with TUs for tags and Call-IDs.
    pub fn ids(&mut self) -> &mut IdGen {
        &mut self.ids
    }

    /// Feed one input.
    pub fn handle_input(&mut self, input: Input<'_>) {
        match input {
            Input::Datagram { now, peer, data } => match parse_datagram(data) {
                Ok(Some(msg)) => self.on_message(now, peer, msg),
                Ok(None) => {}
                Err(e) => self.on_parse_error(peer, data, &e),
            },
            Input::Message { now, peer, message } => self.on_message(now, peer, message),
            Input::Timeout(now) => self.on_timeout(now),
            Input::TransportError { now, peer } => self.on_transport_error(now, peer),
        }
    }

    /// Make room for `n` completed non-INVITE transactions waiting out Timer J at once
    /// (a REGISTER from every phone within 32 s), so their indexes are sized at start.
    pub fn reserve_completed(&mut self, n: usize) {
        self.completed.reserve(n);
    }

    /// Next output, if any.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        match self.out.pop_front()? {
            Queued::Transmit { peer, data } => Some(Output::Transmit { peer, data }),
            Queued::Event => self.events.pop_front().map(Output::Event),
        }
    }

    /// When to call `handle_input(Input::Timeout(..))` next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.timers.next(), self.completed.next_end()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- receive path -------------------------------------------------------------

    fn on_parse_error(&mut self, peer: Peer, data: &[u8], e: &ParseError) {
        *self.stats.parse_errors.entry(e.code()).or_default() += 1;
        // An unparsable response is dropped silently (RFC 3261 §18.1.2 / §16.7).
        // Never answer an ACK, even a broken one (RFC 3261 §17.2.1: ACKs get no response).
        let is_ack = data.iter().skip_while(|c| **c == b'\r' || **c == b'\n').take(4).eq(b"ACK ".iter());
        let status = match salvage_headers(data) {
            Some((true, headers)) if !is_ack && headers.get(&HeaderName::Via).is_some() => {
                let mut resp = Response::from_headers(&headers, e.status());
                resp.reason = format!("{} ({e})", resp.reason).into();
                self.send_stateless_to(peer, &resp);
                Some(resp.status)
            }
            _ => None,
        };
        self.emit(Event::Rejected { peer, code: e.code(), status });
    }

    fn on_message(&mut self, now: Instant, peer: Peer, msg: Message) {
        match msg {
            Message::Request(r) => self.on_request(now, peer, r),
            Message::Response(r) => self.on_response(now, peer, r),
        }
    }

    fn on_request(&mut self, now: Instant, peer: Peer, mut req: Request) {
        *self.stats.requests_in.entry(method_label(&req.method)).or_default() += 1;
        let core = match req.core() {
            Ok(c) => c,
            Err(e) => {
                *self.stats.parse_errors.entry(e.code()).or_default() += 1;
                let status = if req.headers.get(&HeaderName::Via).is_some() && req.method != Method::Ack {
                    let mut resp = Response::to_request(&req, e.status());
                    resp.reason = format!("{} ({e})", resp.reason).into();
                    self.send_stateless_to(peer, &resp);
                    Some(resp.status)
                } else {
                    None
                };
                self.emit(Event::Rejected { peer, code: e.code(), status });
                return;
            }
        };
        let core = stamp_received(&mut req, core, peer);
        let reply_to = response_destination(&core.via, peer);

        if req.method == Method::Ack {
            self.on_ack(now, peer, req, core);
            return;
        }
        let method = req.method.clone();
        let key = KeyView::of(&core, &method);
        let key_fp = self.fps.of(&key);
        if let Some(id) = self.find_server(key_fp, key) {
            if let Some(entry) = self.servers.get_mut(slot(id)) {
                let actions = entry.tx.on_request_retransmit();
                self.stats.retransmissions += actions.len() as u64;
                self.apply_server(id, actions, now);
            }
            return;
        }
        let check_fps = &self.check_fps;
        if let Some((reply_to, response)) = self.completed.find(key_fp, || check_fps.of(&key)) {
            self.stats.retransmissions += 1;
            self.out.push_back(Queued::Transmit { peer: reply_to, data: response.to_vec() });
            return;
        }
        if method == Method::Cancel {
            self.on_cancel(now, reply_to, &req, &core, (key, key_fp));
            return;
        }
        // Merged requests (§8.2.2.2): same From tag, Call-ID and CSeq, no To tag, but a
        // different transaction: a forking loop reached us twice. Any transaction filed
        // under the merge key has another key (the same key was a retransmission above).
        let merge: Option<(MergeView<'_>, u64)> = core.to.tag().is_none().then(|| {
            let m = (core.from.tag().unwrap_or_default(), core.call_id.as_str(), core.cseq.seq, &method);
            (m, self.fps.of(&m))
        });
        let servers = &self.servers;
        let first = merge.and_then(|(m, fp)| {
            self.merged_ix
                .find(fp, |id| servers.get(slot(id)).and_then(|e| e.merge.as_deref()).is_some_and(|k| k.matches(m)))
        });
        let merged_with_completed =
            first.is_none() && merge.is_some_and(|(m, fp)| self.completed.has_merge(fp, || self.check_fps.of(&m)));
        let refusal = match first {
            Some(_) => Err(Refusal::LoopDetected),
            None if merged_with_completed => Err(Refusal::LoopDetected),
            None => check_request(&req, &self.cfg),
        };
        let tx = ServerTx::new(&method, reply_to, &self.cfg.timers);
        // the first of merged requests is filed under the merge key, the others are not
        let filed_merge =
            merge.filter(|_| first.is_none() && !merged_with_completed).map(|(m, fp)| Box::new(MergeKey::new(m, fp)));
        let id = self.add_server(key, key_fp, tx, filed_merge);
        match refusal {
            Err(refusal) => {
                let mut resp = refusal.response(&req, &self.cfg);
                let tag = self.ids.tag();
                let _ = resp.ensure_to_tag(&tag);
                self.emit(Event::Rejected { peer, code: refusal.code(), status: Some(resp.status) });
                let _ = self.respond(now, ServerTxId(id), resp);
            }
            Ok(()) => {
                if req.method == Method::Invite && self.cfg.auto_trying {
                    // §17.2.1: answer 100 at once so the client stops retransmitting.
                    let trying = Response::to_request(&req, 100);
                    let _ = self.respond(now, ServerTxId(id), trying);
                }
                self.emit(Event::Request { tx: ServerTxId(id), request: req, core, source: peer });
            }
        }
    }

    fn on_ack(&mut self, now: Instant, peer: Peer, req: Request, core: Core) {
        // ACK for a non-2xx shares the INVITE's branch (§17.2.3) and stays in the transaction.
        let key = KeyView::of(&core, &Method::Invite);
        if let Some(id) = self.find_server(self.fps.of(&key), key)
            && let Some(entry) = self.servers.get_mut(slot(id))
        {
            let before_accepted = entry.tx.ack_key.is_none();
            entry.tx.on_ack(now, &self.cfg.timers);
            if before_accepted {
                self.reschedule(TxRef::Server(id), now);
                self.reap_server(id);
                return;
            }
        }
        // ACK for a 2xx: stop our retransmissions and hand it to the TU.
        let ack_key = (core.call_id.as_str(), core.cseq.seq);
        let ack_fp = self.fps.of(&ack_key);
        let servers = &self.servers;
        let accepted = self.accepted_ix.find(ack_fp, |id| {
            servers
                .get(slot(id))
                .and_then(|e| e.tx.ack_key.as_deref())
                .is_some_and(|(c, n)| *n == ack_key.1 && c == ack_key.0)
        });
        if let Some(id) = accepted {
            self.accepted_ix.remove(ack_fp, id);
            if let Some(entry) = self.servers.get_mut(slot(id)) {
                entry.ack_fp = None;
                entry.tx.on_ack(now, &self.cfg.timers);
            }
        }
        self.emit(Event::Ack { request: req, core, source: peer });
    }

    /// `key` is the CANCEL's own transaction key and its fingerprint.
    fn on_cancel(&mut self, now: Instant, reply_to: Peer, req: &Request, core: &Core, key: (KeyView<'_>, u64)) {
        let invite_key = KeyView::of(core, &Method::Invite);
        let invite = self.find_server(self.fps.of(&invite_key), invite_key);
        let tx = ServerTx::new(&Method::Cancel, reply_to, &self.cfg.timers);
        let id = self.add_server(key.0, key.1, tx, None);
        let status = if invite.is_some() { 200 } else { 481 };
        let mut resp = Response::to_request(req, status);
        if status == 481 {
            let tag = self.ids.tag();
            let _ = resp.ensure_to_tag(&tag);
        }
        let _ = self.respond(now, ServerTxId(id), resp);
        if let Some(inv) = invite
            && self.servers.get(slot(inv)).is_some_and(|e| e.tx.awaits_final())
        {
            self.emit(Event::Cancelled { invite: ServerTxId(inv) });
        }
    }

    fn on_response(&mut self, now: Instant, peer: Peer, resp: Response) {
        *self.stats.responses_in.entry(resp.status).or_default() += 1;
        let Ok(core) = resp.core() else {
            *self.stats.parse_errors.entry("response_core").or_default() += 1;
            self.emit(Event::Rejected { peer, code: "response_core", status: None });
            return;
        };
        let key = (core.via.branch().unwrap_or_default(), &core.cseq.method);
        let clients = &self.clients;
        let found =
            self.client_ix.find(self.fps.of(&key), |id| clients.get(slot(id)).is_some_and(|e| e.key.view() == key));
        let Some(id) = found else {
            if core.cseq.method == Method::Invite && (200..300).contains(&resp.status) {
                self.emit(Event::Stray2xx { response: resp, core });
            }
            return;
        };
        let Some(entry) = self.clients.get_mut(slot(id)) else {
            return;
        };
        let cfg = self.cfg.timers;
        let original = entry.request.as_deref();
        // the closure runs only on the first final response, while the request is kept
        let actions =
            entry.tx.on_response(resp, now, &cfg, |r| original.map(|o| build_ack(o, r).to_bytes()).unwrap_or_default());
        if !entry.tx.awaits_final() {
            entry.request = None;
        }
        let send_cancel = entry.tx.cancel_pending && entry.tx.got_provisional();
        self.apply_client(id, actions, Some(core), now);
        if send_cancel {
            let _ = self.send_cancel(now, ClientTxId(id));
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        self.completed.expire(now);
        let cfg = self.cfg.timers;
        while let Some((_, r)) = self.timers.pop_due(now) {
            // A deadline whose timer was cleared or whose transaction ended finds
            // nothing due: the queues are never searched to remove one.
            let mut actions = Vec::new();
            let mut fired = false;
            match r {
                TxRef::Client(id) => {
                    let Some(entry) = self.clients.get_mut(slot(id)) else { continue };
                    for t in entry.tx.timers.take_due(now) {
                        fired = true;
                        actions.extend(entry.tx.on_timer(t, now, &cfg));
                    }
                    if fired {
                        self.apply_client(id, actions, None, now);
                    }
                }
                TxRef::Server(id) => {
                    let Some(entry) = self.servers.get_mut(slot(id)) else { continue };
                    for t in entry.tx.timers.take_due(now) {
                        fired = true;
                        actions.extend(entry.tx.on_timer(t, now, &cfg));
                    }
                    if fired {
                        self.apply_server(id, actions, now);
                    }
                }
            }
        }
    }

    fn on_transport_error(&mut self, now: Instant, peer: Peer) {
        let ids: Vec<u64> = self.clients.iter().filter(|(_, e)| e.tx.peer == peer).map(|(s, _)| id_of(s)).collect();
        for id in ids {
            if let Some(entry) = self.clients.get_mut(slot(id)) {
                let actions = entry.tx.on_transport_error();
                self.apply_client(id, actions, None, now);
            }
        }
    }

    // ---- TU commands ----------------------------------------------------------------

    /// Send a request in a new client transaction. A fresh top Via with our sent-by and a
    /// new branch is added; Max-Forwards defaults to 70.
    pub fn send_request(&mut self, now: Instant, mut req: Request, dest: Peer) -> Result<ClientTxId, EngineError> {
        let branch = self.ids.branch();
        self.push_via(&mut req, dest.transport, &branch)?;
        if req.headers.get(&HeaderName::MaxForwards).is_none() {
            req.headers.push(HeaderName::MaxForwards, "70");
        }
        if req.headers.get(&HeaderName::ContentLength).is_none() {
            req.headers.push(HeaderName::ContentLength, req.body.len().to_string());
        }
        // Our own request: checking that the mandatory headers are there is enough (their
        // syntax is ours); parsing them in full cost a fifth of a call's engine time.
        for (name, label) in MANDATORY {
            if req.headers.get(&name).is_none() {
                return Err(EngineError::Parse(ParseError::MissingHeader(label)));
            }
        }
        *self.stats.requests_out.entry(method_label(&req.method)).or_default() += 1;
        let (tx, actions) = ClientTx::new(&req.method, dest, req.to_bytes(), now, &self.cfg.timers);
        let id = self.add_client(ClientKey { branch, method: req.method.clone() }, tx, req);
        self.apply_client(id, actions, None, now);
        Ok(ClientTxId(id))
    }

    /// Send a request outside any transaction (the ACK for a 2xx, §13.2.2.4). A new
    /// branch is added unless `reuse_branch` is given (ACK retransmissions reuse theirs).
    pub fn send_ack(
        &mut self,
        mut ack: Request,
        dest: Peer,
        reuse_branch: Option<&str>,
    ) -> Result<String, EngineError> {
        let branch = reuse_branch.map_or_else(|| self.ids.branch(), str::to_owned);
        self.push_via(&mut ack, dest.transport, &branch)?;
        if ack.headers.get(&HeaderName::MaxForwards).is_none() {
            ack.headers.push(HeaderName::MaxForwards, "70");
        }
        if ack.headers.get(&HeaderName::ContentLength).is_none() {
            ack.headers.push(HeaderName::ContentLength, ack.body.len().to_string());
        }
        *self.stats.requests_out.entry("ACK").or_default() += 1;
        self.out.push_back(Queued::Transmit { peer: dest, data: ack.to_bytes() });
        Ok(branch)
    }

    /// Cancel a pending INVITE (§9.1). Sent at once if a provisional arrived, otherwise
    /// as soon as one does; ignored once a final response arrived.
    pub fn send_cancel(&mut self, now: Instant, tx: ClientTxId) -> Result<(), EngineError> {
        let entry = self.clients.get_mut(slot(tx.0)).ok_or(EngineError::NoSuchClientTx(tx))?;
        if entry.key.method != Method::Invite {
            return Ok(());
        }
        if !entry.tx.got_provisional() {
            entry.tx.cancel_pending = !entry.tx.is_terminated();
            return Ok(());
        }
        // kept until the final response, and a provisional means none came yet
        let Some(invite) = entry.request.as_deref() else {
            return Ok(());
        };
        let cancel = build_cancel(invite);
        entry.tx.cancel_pending = false;
        entry.tx.on_cancel_sent(now, &self.cfg.timers);
        let peer = entry.tx.peer;
        // CANCEL carries the INVITE's top Via, branch included (§9.1)
        let branch = entry.key.branch.clone();
        self.reschedule(TxRef::Client(tx.0), now);
        *self.stats.requests_out.entry("CANCEL").or_default() += 1;
        let (ctx, actions) = ClientTx::new(&Method::Cancel, peer, cancel.to_bytes(), now, &self.cfg.timers);
        let id = self.add_client(ClientKey { branch, method: Method::Cancel }, ctx, cancel);
        self.apply_client(id, actions, None, now);
        Ok(())
    }

    /// Send a response in a server transaction.
    pub fn respond(&mut self, now: Instant, tx: ServerTxId, mut resp: Response) -> Result<(), EngineError> {
        let entry = self.servers.get_mut(slot(tx.0)).ok_or(EngineError::NoSuchServerTx(tx))?;
        if resp.status > 100 {
            // a To that does not parse is sent as it is
            let ids = &mut self.ids;
            let _ = resp.ensure_to_tag_with(|| ids.tag());
        }
        if resp.headers.get(&HeaderName::Server).is_none() && resp.status != 100 {
            resp.headers.push(HeaderName::Server, self.cfg.user_agent.as_str());
        }
        let status = resp.status;
        let bytes = resp.to_bytes();
        let cfg = self.cfg.timers;
        let actions = entry.tx.on_tu_response(status, bytes, now, &cfg).ok_or(EngineError::NoSuchServerTx(tx))?;
        if (200..300).contains(&status) && matches!(entry.key_method(), Method::Invite) && entry.ack_fp.is_none() {
            // the ACK is matched by Call-ID and CSeq number alone: parse no more than that
            let (call_id, seq) = (resp.headers.call_id()?, resp.headers.cseq()?.seq);
            let fp = self.fps.of(&(call_id.as_str(), seq));
            entry.tx.ack_key = Some(Box::new((call_id, seq)));
            entry.ack_fp = Some(fp);
            self.accepted_ix.insert(fp, tx.0);
        }
        *self.stats.responses_out.entry(status).or_default() += 1;
        self.apply_server(tx.0, actions, now);
        Ok(())
    }

    /// Answer a non-INVITE request with a final response and drop its transaction at
    /// once, as a stateless UAS would (RFC 3261 §8.2.7: "to respond to an
    /// unauthenticated request with a challenge"). A retransmitted request then gets a
    /// fresh answer instead of this one; no state is held through Timer J. INVITEs keep
    /// their transaction (their final response must be retransmitted until the ACK).
    ///
    /// # Errors
    /// The transaction does not exist, or the response does not print.
    pub fn respond_and_forget(&mut self, now: Instant, tx: ServerTxId, resp: Response) -> Result<(), EngineError> {
        let entry = self.servers.get(slot(tx.0)).ok_or(EngineError::NoSuchServerTx(tx))?;
        if matches!(entry.key_method(), Method::Invite) || resp.status < 200 {
            return self.respond(now, tx, resp);
        }
        let peer = entry.tx.reply_to;
        let mut resp = resp;
        let ids = &mut self.ids;
        let _ = resp.ensure_to_tag_with(|| ids.tag());
        if resp.headers.get(&HeaderName::Server).is_none() {
            resp.headers.push(HeaderName::Server, self.cfg.user_agent.as_str());
        }
        self.send_stateless_to(peer, &resp);
        self.remove_server(tx.0);
        Ok(())
    }

    /// Send a response without a transaction (rarely right; used for errors before one
    /// exists and by tests).
    pub fn send_stateless(&mut self, peer: Peer, resp: &Response) {
        self.send_stateless_to(peer, resp);
    }

    // ---- internals ------------------------------------------------------------------

    fn send_stateless_to(&mut self, peer: Peer, resp: &Response) {
        *self.stats.responses_out.entry(resp.status).or_default() += 1;
        self.out.push_back(Queued::Transmit { peer, data: resp.to_bytes() });
    }

    fn push_via(&self, req: &mut Request, t: Transport, branch: &str) -> Result<(), EngineError> {
        let (_, prefix) = self.via_prefixes.iter().find(|(k, _)| *k == t).ok_or(EngineError::NoLocalAddress(t))?;
        let mut via = String::with_capacity(prefix.len() + branch.len() + 6);
        via.push_str(prefix);
        via.push_str(branch);
        via.push_str(";rport");
        req.headers.push_front(HeaderName::Via, via);
        Ok(())
    }

    fn emit(&mut self, event: Event) {
        self.events.push_back(event);
        self.out.push_back(Queued::Event);
    }

    /// The server transaction with this key, if one is live.
    fn find_server(&self, fp: u64, key: KeyView<'_>) -> Option<u64> {
        let servers = &self.servers;
        self.server_ix.find(fp, |id| servers.get(slot(id)).is_some_and(|e| e.key.view() == key))
    }

    /// File a new server transaction under its key (and its merge key, if given).
    fn add_server(&mut self, key: KeyView<'_>, key_fp: u64, tx: ServerTx, merge: Option<Box<MergeKey>>) -> u64 {
        let merge_fp = merge.as_deref().map(|m| m.fp);
        let id = id_of(self.servers.insert(ServerEntry { tx, key: key.to_owned_key(), key_fp, merge, ack_fp: None }));
        self.server_ix.insert(key_fp, id);
        if let Some(fp) = merge_fp {
            self.merged_ix.insert(fp, id);
        }
        id
    }

    fn add_client(&mut self, key: ClientKey, tx: ClientTx, request: Request) -> u64 {
        let key_fp = self.fps.of(&key.view());
        let id = id_of(self.clients.insert(ClientEntry { tx, key, key_fp, request: Some(Box::new(request)) }));
        self.client_ix.insert(key_fp, id);
        id
    }

    fn remove_server(&mut self, id: u64) {
        if let Some(e) = self.servers.remove(slot(id)) {
            self.server_ix.remove(e.key_fp, id);
            if let Some(m) = e.merge.as_deref() {
                self.merged_ix.remove(m.fp, id);
            }
            if let Some(fp) = e.ack_fp {
                self.accepted_ix.remove(fp, id);
            }
        }
    }

    /// Queue the deadlines a transaction armed at `now` (each timer is queued once, when
    /// armed; one cleared or moved leaves its old deadline to find nothing due).
    fn reschedule(&mut self, r: TxRef, now: Instant) {
        let armed = match r {
            TxRef::Client(id) => self.clients.get_mut(slot(id)).map(|e| &mut e.tx.timers),
            TxRef::Server(id) => self.servers.get_mut(slot(id)).map(|e| &mut e.tx.timers),
        };
        if let Some(armed) = armed {
            for at in armed.take_fresh() {
                self.timers.push(now, at, r);
            }
        }
    }

    /// Carry out a client transaction's actions. `core` is the parsed core of the response
    /// that caused them, if one did (it is not parsed twice).
    fn apply_client(&mut self, id: u64, actions: Vec<Action>, mut core: Option<Core>, now: Instant) {
        let Some(entry) = self.clients.get(slot(id)) else {
            return;
        };
        let peer = entry.tx.peer;
        for a in actions {
            match a {
                Action::Send(data) => self.out.push_back(Queued::Transmit { peer, data }),
                Action::DeliverResponse(response) => {
                    let c = match core.take().map_or_else(|| response.core(), Ok) {
                        Ok(c) => c,
                        Err(_) => continue,
                    };
                    self.emit(Event::Response { tx: ClientTxId(id), response, core: c });
                }
                Action::TimedOut => {
                    core.take();
                    self.emit(Event::Timeout { tx: ClientTxId(id) });
                }
                Action::AckTimeout | Action::AckMissing => {}
            }
        }
        self.reschedule(TxRef::Client(id), now);
        if self.clients.get(slot(id)).is_some_and(|e| e.tx.is_terminated())
            && let Some(e) = self.clients.remove(slot(id))
        {
            self.client_ix.remove(e.key_fp, id);
        }
    }

    fn apply_server(&mut self, id: u64, actions: Vec<Action>, now: Instant) {
        let Some(entry) = self.servers.get(slot(id)) else {
            return;
        };
        let peer = entry.tx.reply_to;
        for a in actions {
            match a {
                Action::Send(data) => self.out.push_back(Queued::Transmit { peer, data }),
                Action::AckTimeout => self.emit(Event::AckTimeout { tx: ServerTxId(id) }),
                Action::AckMissing | Action::DeliverResponse(_) | Action::TimedOut => {}
            }
        }
        if self.servers.get(slot(id)).is_some_and(|e| e.tx.is_completed_non_invite()) {
            self.retire_server(id, now);
            return;
        }
        self.reschedule(TxRef::Server(id), now);
        self.reap_server(id);
    }

    /// Move a non-INVITE transaction that completed over UDP to the compact store, where
    /// it waits out Timer J (armed at `now`) re-sending its response.
    fn retire_server(&mut self, id: u64, now: Instant) {
        let Some(e) = self.servers.get_mut(slot(id)) else { return };
        // its Timer J is the store's queue: the deadlines it armed are not queued
        let _ = e.tx.timers.take_fresh();
        let (reply_to, response) = (e.tx.reply_to, e.tx.last_response.take());
        let key = (e.key_fp, self.check_fps.of(&e.key.view()));
        let merge = e.merge.as_deref().map(|m| (m.fp, self.check_fps.of(&m.view())));
        self.remove_server(id);
        if let Some(response) = response {
            let ends = now + self.cfg.timers.t1x64();
            self.completed.insert(ends, key, merge, reply_to, &response);
        }
    }

    fn reap_server(&mut self, id: u64) {
        if self.servers.get(slot(id)).is_some_and(|e| e.tx.is_terminated()) {
            self.remove_server(id);
        }
    }
}

impl ServerEntry {
    fn key_method(&self) -> &Method {
        self.key.view().method()
    }
}

/// A metrics label for a method without allocating; extension methods share one label so
/// a flood of invented methods cannot grow the metrics without bound.
fn method_label(m: &Method) -> &'static str {
    match m {
        Method::Extension(_) => "other",
        Method::Invite => "INVITE",
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Register => "REGISTER",
        Method::Options => "OPTIONS",
        Method::Info => "INFO",
        Method::Update => "UPDATE",
        Method::Prack => "PRACK",
        Method::Subscribe => "SUBSCRIBE",
        Method::Notify => "NOTIFY",
        Method::Refer => "REFER",
        Method::Message => "MESSAGE",
        Method::Publish => "PUBLISH",
    }
}

/// Add `received` and fill `rport` on the top Via (§18.2.1, RFC 3581 §4).
fn stamp_received(req: &mut Request, mut core: Core, peer: Peer) -> Core {
    let ip = peer.addr.ip();
    let mut changed = false;
    if core.via.host().ip() != Some(ip) {
        // received is a bare address, IPv6 without brackets (§20.42, RFC 5118 §4.5)
        let received = match ip {
            std::net::IpAddr::V4(a) => Host::V4(a).to_string(),
            std::net::IpAddr::V6(a) => a.to_string(),
        };
        core.via.set_param("received", &received);
        changed = true;
    }
    if core.via.rport() == Some(None) {
        let mut port = String::with_capacity(5);
        // writing into a String cannot fail
        let _ = sip_msg::text::fmt_decimal(&mut port, u32::from(peer.addr.port()));
        core.via.set_param("rport", &port);
        changed = true;
    }
    if changed {
        // Only the top value changes, and only the stamped parameters in its text; the
        // rest of its line and later Via lines stay as received.
        req.headers.replace_first_value(&HeaderName::Via, core.via.as_str());
    }
    core
}

/// Where responses go (§18.2.2, RFC 3581 §4): reliable transports answer on the same
/// connection; with rport to the source; otherwise to `received` and the sent-by port.
fn response_destination(via: &ViaField, peer: Peer) -> Peer {
    if peer.transport.is_reliable() || via.rport().is_some() {
        return peer;
    }
    let port = via.port().unwrap_or(5060);
    Peer { transport: peer.transport, addr: SocketAddr::new(peer.addr.ip(), port) }
}

/// The headers every request must carry (RFC 3261 §8.1.1), with their names for errors.
const MANDATORY: [(HeaderName, &str); 5] = [
    (HeaderName::Via, "Via"),
    (HeaderName::From, "From"),
    (HeaderName::To, "To"),
    (HeaderName::CallId, "Call-ID"),
    (HeaderName::CSeq, "CSeq"),
];

/// The ACK for a non-2xx final (§17.1.1.3): the INVITE's fields with the response's To.
fn build_ack(original: &Request, resp: &Response) -> Request {
    same_transaction_request(original, Method::Ack, resp.headers.get(&HeaderName::To))
}

/// The CANCEL for a pending request (§9.1): the INVITE's fields, To included.
fn build_cancel(original: &Request) -> Request {
    same_transaction_request(original, Method::Cancel, None)
}

/// A request in the INVITE's transaction (ACK of a non-2xx, CANCEL): the same
/// Request-URI, top Via (so the same branch), Max-Forwards, From, Call-ID, CSeq number
/// and Route set; To from `to` when given, else the INVITE's.
fn same_transaction_request(original: &Request, method: Method, to: Option<&str>) -> Request {
    let mut r = Request::new(method.clone(), original.uri.clone());
    if let Some(v) = original.headers.get(&HeaderName::Via) {
        let top = sip_msg::text::split_commas(v).next().unwrap_or_default().to_owned();
        r.headers.push(HeaderName::Via, top);
    }
    for name in [HeaderName::MaxForwards, HeaderName::From] {
        if let Some(v) = original.headers.get(&name) {
            r.headers.push(name, v);
        }
    }
    if let Some(to) = to.or_else(|| original.headers.get(&HeaderName::To)) {
        r.headers.push(HeaderName::To, to);
    }
    if let Some(cid) = original.headers.get(&HeaderName::CallId) {
        r.headers.push(HeaderName::CallId, cid);
    }
    if let Ok(cseq) = original.headers.cseq() {
        r.headers.push(HeaderName::CSeq, CSeq::value(cseq.seq, &method));
    }
    for route in original.headers.get_all(&HeaderName::Route) {
        r.headers.push(HeaderName::Route, route);
    }
    r.headers.push(HeaderName::ContentLength, "0");
    r
}
