//! The B2BUA engine.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip::dialog::Dialog;
use sip::digest::{AuthOutcome, Authenticator};
use sip::fastmap::{FastMap, fast_map};
use sip::registrar::{BindingChange, Registrar};
use sip::{ClientTxId, Endpoint, Event, Input, Output, Peer, ServerTxId, Transport};
use sip_msg::{Core, HeaderName, Method, Pii, Request, Response, Uri};
use tracing::{debug, info, warn};

use crate::call::{Call, CallState, Fork, Leg, Side};
use crate::media::MediaOp;
use anchor::{Anchor, PortsAfter, SdpRole};

pub(crate) mod anchor;
pub(crate) mod ivr_call;
use crate::config::{DidTarget, PbxConfig};
use crate::numbers::normalise;
use crate::record::{CallRecord, Direction, Outcome, Party};

/// Something for the driver.
#[derive(Debug)]
pub enum PbxOutput {
    /// Send bytes.
    Transmit {
        /// Destination.
        peer: Peer,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Write to the store.
    Persist(Persist),
    /// Tell the media driver.
    Media(MediaOp),
    /// svar recorded something to store: a caller's message (store it and open an
    /// obligation) or a conversation recorded with consent.
    Recording(crate::ivr_setup::Recording),
}

/// A record to persist.
#[derive(Debug, Clone)]
pub enum Persist {
    /// Registrar binding change.
    Binding(BindingChange),
    /// A finished call.
    CallRecord(CallRecord),
}

/// Why a new call is refused, and what its record says.
struct CallRefusal<'a> {
    status: u16,
    reason: Option<&'a str>,
    outcome: Outcome,
    direction: Direction,
    caller: String,
    callee: String,
}

/// Counters for metrics.
#[derive(Debug, Default, Clone)]
pub struct PbxStats {
    /// Calls ended, by outcome.
    pub calls_by_outcome: sip::fastmap::FastMap<&'static str, u64>,
    /// Failed digest attempts.
    pub auth_failures: u64,
    /// Requests refused for a blocked source.
    pub auth_blocked: u64,
    /// Refusals by the UAS checks and parse errors, by code.
    pub rejected: sip::fastmap::FastMap<&'static str, u64>,
}

#[derive(Debug, Clone)]
enum TxRole {
    Fork(u64, usize),
    Relay { call: u64, stx: ServerTxId, request: Request, from: Side },
    Bye,
    TrunkRegister(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PbxTimer {
    Ring(u64),
    Ivr(u64),
    Housekeeping,
    TrunkRegister(usize),
    DrainDeadline,
}

#[derive(Debug)]
struct TrunkReg {
    trunk: usize,
    call_id: String,
    tag: String,
    cseq: u32,
    registered: bool,
    auth_tried: bool,
}

/// The B2BUA with its registrar.
#[derive(Debug)]
pub struct Pbx {
    ep: Endpoint,
    /// Our Contact per transport, printed once at start (it was a `format!` per use).
    contacts: crate::config::Contacts,
    /// The Allow header's value, printed once at start.
    allow: String,
    cfg: PbxConfig,
    auth: Authenticator,
    registrar: Registrar,
    calls: FastMap<u64, Call>,
    by_stx: FastMap<ServerTxId, u64>,
    by_ctx: FastMap<ClientTxId, TxRole>,
    by_dialog: FastMap<(String, String), (u64, Side)>,
    timers: BinaryHeap<Reverse<(Instant, PbxTimer)>>,
    trunk_regs: Vec<TrunkReg>,
    out: VecDeque<PbxOutput>,
    /// Recordings still arriving for calls whose caller hung up mid-message.
    hung_up_recordings: FastMap<u64, (String, String, String)>,
    /// Conversations being recorded whose call has ended: (Call-ID, caller, consent ms).
    ended_conversations: FastMap<u64, (String, String, i64)>,
    /// RTP ports for anchored calls (none when media passes phone to phone).
    ports: Option<media::ports::PortPool>,
    next_call: u64,
    draining: bool,
    started: bool,
    wall_ms: i64,
    stats: PbxStats,
}

const HOUSEKEEPING: Duration = Duration::from_secs(10);

impl Pbx {
    /// A PBX over an endpoint, with an authenticator and restored bindings.
    #[must_use]
    pub fn new(mut ep: Endpoint, cfg: PbxConfig, mut auth: Authenticator, mut registrar: Registrar) -> Self {
        // Tables sized at start for every configured phone registering at once (as they do
        // when a site's power or network comes back): growing them under that load doubled
        // each one, copying it whole on the SIP thread into fresh memory (BENCHMARKS.md,
        // session 19).
        let phones = cfg.users.len();
        registrar.reserve(phones);
        auth.reserve(phones);
        ep.reserve_completed(phones);
        // Keys a caller chooses (Call-ID, tags) hash with a seed the caller cannot know.
        let seed = ep.config().seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
        let trunk_regs = cfg
            .trunks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.register && t.credentials.is_some())
            .map(|(i, _)| TrunkReg {
                trunk: i,
                call_id: String::new(),
                tag: String::new(),
                cseq: 0,
                registered: false,
                auth_tried: false,
            })
            .collect();
        let ports = cfg.media.as_ref().map(|m| media::ports::PortPool::new(m.first_port, m.last_port));
        let contacts = cfg.contacts();
        let allow = ep.config().allow_header();
        Self {
            contacts,
            allow,
            hung_up_recordings: fast_map(seed),
            ended_conversations: fast_map(seed),
            ports,
            ep,
            cfg,
            auth,
            registrar,
            calls: fast_map(seed),
            by_stx: fast_map(seed),
            by_ctx: fast_map(seed),
            by_dialog: fast_map(seed),
            timers: BinaryHeap::new(),
            trunk_regs,
            out: VecDeque::new(),
            next_call: 1,
            draining: false,
            started: false,
            wall_ms: 0,
            stats: PbxStats::default(),
        }
    }

    /// Feed one input with the wall clock (Unix milliseconds) at that moment.
    pub fn handle_input(&mut self, input: Input<'_>, wall_ms: i64) {
        self.wall_ms = wall_ms;
        let now = match &input {
            Input::Datagram { now, .. } | Input::Message { now, .. } | Input::TransportError { now, .. } => *now,
            Input::Timeout(now) => *now,
        };
        if !self.started {
            self.start(now);
        }
        let is_timeout = matches!(input, Input::Timeout(_));
        self.ep.handle_input(input);
        if is_timeout {
            self.run_timers(now);
        }
        self.pump(now);
    }

    /// Next output.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<PbxOutput> {
        self.out.pop_front()
    }

    /// When to feed `Input::Timeout` next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self.timers.peek().map(|Reverse((at, _))| *at);
        match (own, self.ep.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> &PbxStats {
        &self.stats
    }

    /// The SIP engine's counters.
    #[must_use]
    pub fn endpoint_stats(&self) -> &sip::endpoint::EndpointStats {
        self.ep.stats()
    }

    /// Calls in progress (ringing or answered).
    #[must_use]
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Requests of svar's own that call control still follows (forks, relayed requests,
    /// BYEs, trunk registrations): none once every call has ended and its requests are
    /// answered, however many calls went before (a leak check).
    #[must_use]
    pub fn tracked_requests(&self) -> usize {
        self.by_ctx.len()
    }

    /// RTP port blocks (four ports each) held by calls (anchored media).
    #[must_use]
    pub fn media_ports_in_use(&self) -> usize {
        self.ports.as_ref().map_or(0, media::ports::PortPool::in_use)
    }

    /// RTP port blocks out of rotation because their ports could not be bound.
    #[must_use]
    pub fn media_ports_set_aside(&self) -> usize {
        self.ports.as_ref().map_or(0, media::ports::PortPool::set_aside_count)
    }

    /// Live registrations.
    #[must_use]
    pub fn registrations(&self) -> usize {
        self.registrar.binding_count()
    }

    /// Trunks currently registered with their provider.
    #[must_use]
    pub fn trunks_registered(&self) -> usize {
        self.trunk_regs.iter().filter(|r| r.registered).count()
    }

    /// Stop taking calls: new INVITEs get 503 with Retry-After; calls still up at
    /// `now + grace` are hung up by svar.
    pub fn begin_drain(&mut self, now: Instant, grace: Duration) {
        if !self.draining {
            info!(active_calls = self.calls.len(), grace_s = grace.as_secs(), "draining: refusing new calls");
            self.draining = true;
            self.timers.push(Reverse((now + grace, PbxTimer::DrainDeadline)));
        }
    }

    /// No calls left, no request of ours waiting for its answer (BYEs of hung-up calls
    /// included) and no recorded message still on its way from the media. Server transactions that only absorb retransmissions do not count.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        // a message whose caller hung up while recording arrives when the media closes:
        // not idle until it has
        self.calls.is_empty() && self.ep.pending_requests() == 0 && self.hung_up_recordings.is_empty()
    }

    // ---- plumbing --------------------------------------------------------------------

    fn start(&mut self, now: Instant) {
        self.started = true;
        self.timers.push(Reverse((now + HOUSEKEEPING, PbxTimer::Housekeeping)));
        for i in 0..self.trunk_regs.len() {
            self.timers.push(Reverse((now, PbxTimer::TrunkRegister(i))));
        }
    }

    fn pump(&mut self, now: Instant) {
        while let Some(o) = self.ep.poll_output() {
            match o {
                Output::Transmit { peer, data } => self.out.push_back(PbxOutput::Transmit { peer, data }),
                Output::Event(e) => self.on_event(now, e),
            }
        }
    }

    fn run_timers(&mut self, now: Instant) {
        while let Some(Reverse((at, t))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match t {
                PbxTimer::Ring(id) => self.on_ring_timeout(now, id, at),
                PbxTimer::Ivr(id) => {
                    if let Some(ivr) = self.calls.get_mut(&id).and_then(|c| c.ivr.as_mut())
                        && ivr.runner.poll_timeout().is_some_and(|t| t <= now)
                    {
                        ivr.runner.handle_input(now, ivr::Input::Timeout);
                        self.ivr_pump(now, id);
                    }
                }
                PbxTimer::Housekeeping => {
                    for c in self.registrar.expire(self.wall_ms / 1000) {
                        self.out.push_back(PbxOutput::Persist(Persist::Binding(c)));
                    }
                    self.timers.push(Reverse((now + HOUSEKEEPING, PbxTimer::Housekeeping)));
                }
                PbxTimer::TrunkRegister(i) => self.send_trunk_register(now, i, None),
                PbxTimer::DrainDeadline => {
                    let ids: Vec<u64> = self.calls.keys().copied().collect();
                    for id in ids {
                        self.hang_up(now, id, Party::System);
                    }
                }
            }
            self.pump(now);
        }
    }

    /// 400 for a request whose From or To address does not parse (its structure and tag
    /// were checked on arrival; the address is parsed where it is used).
    fn refuse_unparsable(&mut self, now: Instant, tx: ServerTxId, req: &Request, e: &sip_msg::ParseError) {
        debug!(error = %e, "request refused: unparsable address");
        let mut r = Response::to_request(req, 400);
        r.reason = format!("Bad Request ({e})").into();
        self.respond(now, tx, r);
    }

    fn respond(&mut self, now: Instant, tx: ServerTxId, resp: Response) {
        if let Err(e) = self.ep.respond(now, tx, resp) {
            debug!(error = %e, "response not sent");
        }
    }

    fn alloc_call(&mut self) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        id
    }

    // ---- events -----------------------------------------------------------------------

    fn on_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::Request { tx, request, core, source } => self.on_request(now, tx, request, core, source),
            Event::Ack { request, core, .. } => self.on_ack(request, core),
            Event::Cancelled { invite } => self.on_cancelled(now, invite),
            Event::Response { tx, response, core } => self.on_response(now, tx, response, core),
            Event::Stray2xx { response, core } => self.on_orphan_2xx(now, response, &core, None),
            Event::Timeout { tx } => self.on_client_timeout(now, tx),
            Event::AckTimeout { tx } => {
                if let Some(id) = self.by_stx.get(&tx).copied() {
                    warn!(call = id, "caller never acknowledged the answer; hanging up");
                    self.hang_up(now, id, Party::System);
                }
            }
            Event::Rejected { peer, code, status } => {
                *self.stats.rejected.entry(code).or_default() += 1;
                info!(peer = %peer.addr, code, status, "request refused or dropped");
            }
        }
    }

    fn on_request(&mut self, now: Instant, tx: ServerTxId, req: Request, core: Core, source: Peer) {
        if core.to.tag().is_some() {
            self.on_in_dialog(now, tx, req, core, source);
            return;
        }
        match req.method {
            Method::Register => self.on_register(now, tx, &req, &core, source),
            Method::Options => {
                let mut r = Response::to_request(&req, 200);
                r.headers.push(HeaderName::Allow, self.allow.clone());
                r.headers.push(HeaderName::Accept, "application/sdp");
                self.respond(now, tx, r);
            }
            Method::Invite => self.on_new_invite(now, tx, req, core, source),
            _ => self.respond(now, tx, Response::to_request(&req, 481)),
        }
    }

    // ---- registrar -------------------------------------------------------------------

    fn on_register(&mut self, now: Instant, tx: ServerTxId, req: &Request, core: &Core, source: Peer) {
        let authz = req.headers.get(&HeaderName::Authorization);
        let cfg = &self.cfg;
        let outcome =
            self.auth.verify(now, source.addr.ip(), "REGISTER", authz, |u| cfg.user(u).map(|x| &x.credentials));
        match outcome {
            AuthOutcome::Authorized { username } => {
                let to = match core.to.addr() {
                    Ok(to) => to,
                    Err(e) => {
                        self.refuse_unparsable(now, tx, req, &e);
                        return;
                    }
                };
                let aor = to.uri.as_sip().and_then(|u| u.user.clone()).unwrap_or_default();
                if aor != username {
                    warn!(user = %Pii(&username), aor = %Pii(&aor), "REGISTER for another user's address refused");
                    let mut r = Response::to_request(req, 403);
                    r.reason = "Forbidden (address-of-record is not yours)".into();
                    self.respond(now, tx, r);
                    return;
                }
                let out = self.registrar.register(self.wall_ms / 1000, &aor, req, core, source);
                for c in out.changes {
                    self.out.push_back(PbxOutput::Persist(Persist::Binding(c)));
                }
                debug!(user = %Pii(&aor), status = out.response.status, "REGISTER");
                self.respond(now, tx, out.response);
            }
            AuthOutcome::Challenge { stale, failed } => {
                if failed {
                    self.stats.auth_failures += 1;
                    warn!(peer = %source.addr.ip(), "REGISTER with wrong credentials");
                }
                let mut r = Response::to_request(req, 401);
                for c in self.auth.challenges(now, stale) {
                    r.headers.push(HeaderName::WwwAuthenticate, c);
                }
                // A challenge needs no transaction (RFC 3261 §8.2.7): a retransmission gets
                // a fresh one, and nothing is held for the 32 s of Timer J.
                if let Err(e) = self.ep.respond_and_forget(now, tx, r) {
                    debug!(error = %e, "challenge not sent");
                }
            }
            AuthOutcome::Blocked => {
                self.stats.auth_blocked += 1;
                let mut r = Response::to_request(req, 403);
                r.reason = "Forbidden (too many failed attempts)".into();
                self.respond(now, tx, r);
            }
        }
    }

    // ---- new calls ---------------------------------------------------------------------

    fn refuse_call(&mut self, now: Instant, tx: ServerTxId, req: &Request, core: &Core, why: CallRefusal<'_>) {
        let CallRefusal { status, reason, outcome, direction, caller, callee } = why;
        let rec = (direction, caller, callee);
        let mut r = Response::to_request(req, status);
        if let Some(reason) = reason {
            r.reason = reason.to_owned().into();
        }
        if status == 503 {
            r.headers.push(HeaderName::RetryAfter, self.cfg.drain_retry_after.to_string());
        }
        self.respond(now, tx, r);
        self.finish_record(CallRecord {
            call_id: core.call_id.clone(),
            direction: rec.0,
            caller: rec.1,
            callee: rec.2,
            trunk: None,
            started_ms: self.wall_ms,
            answered_ms: None,
            ended_ms: self.wall_ms,
            outcome,
            status,
            hangup_by: None,
            flow: None,
        });
    }

    fn finish_record(&mut self, rec: CallRecord) {
        *self.stats.calls_by_outcome.entry(rec.outcome.as_str()).or_default() += 1;
        info!(
            call = %rec.call_id,
            direction = rec.direction.as_str(),
            caller = %Pii(&rec.caller),
            callee = %Pii(&rec.callee),
            outcome = rec.outcome.as_str(),
            status = rec.status,
            "call ended"
        );
        self.out.push_back(PbxOutput::Persist(Persist::CallRecord(rec)));
    }

    fn on_new_invite(&mut self, now: Instant, tx: ServerTxId, req: Request, core: Core, source: Peer) {
        let dialled = match &req.uri {
            Uri::Sip(u) => u.user_unescaped().map(|u| u.into_owned()).unwrap_or_default(),
            Uri::Tel(t) => t.digits(),
            Uri::Other { .. } => String::new(),
        };
        let from = match core.from.addr() {
            Ok(from) => from,
            Err(e) => {
                self.refuse_unparsable(now, tx, &req, &e);
                return;
            }
        };
        let from_user = from.uri.as_sip().and_then(|u| u.user.clone()).unwrap_or_default();

        // Who is calling: a trunk by address, or a user by digest.
        let trunk = self.cfg.trunk_by_source(source.addr).map(|t| t.name.clone());
        let caller_user = if trunk.is_some() {
            None
        } else {
            let authz = req.headers.get(&HeaderName::ProxyAuthorization).map(str::to_owned);
            let cfg = &self.cfg;
            match self
                .auth
                .verify(now, source.addr.ip(), "INVITE", authz.as_deref(), |u| cfg.user(u).map(|x| &x.credentials))
            {
                AuthOutcome::Authorized { username } => Some(username),
                AuthOutcome::Challenge { stale, failed } => {
                    if failed {
                        self.stats.auth_failures += 1;
                        warn!(peer = %source.addr.ip(), "INVITE with wrong credentials");
                    }
                    let mut r = Response::to_request(&req, 407);
                    for c in self.auth.challenges(now, stale) {
                        r.headers.push(HeaderName::ProxyAuthenticate, c);
                    }
                    self.respond(now, tx, r);
                    return;
                }
                AuthOutcome::Blocked => {
                    self.stats.auth_blocked += 1;
                    self.respond(now, tx, Response::to_request(&req, 403));
                    return;
                }
            }
        };
        let direction_in = if trunk.is_some() { Direction::Inbound } else { Direction::Internal };
        let caller = caller_user.clone().unwrap_or_else(|| normalise(&from_user));
        if self.draining {
            self.refuse_call(
                now,
                tx,
                &req,
                &core,
                CallRefusal {
                    status: 503,
                    reason: None,
                    outcome: Outcome::Draining,
                    direction: direction_in,
                    caller,
                    callee: dialled,
                },
            );
            return;
        }

        // Where to: the IVR, a user (directly or through a DID), or out through a trunk.
        let number = normalise(&dialled);
        let did = if trunk.is_some() { self.cfg.dids.iter().find(|d| d.number == number) } else { None };
        let to_ivr = match did {
            Some(d) => d.target == DidTarget::Ivr,
            None => trunk.is_none() && self.is_ivr_number(&number),
        };
        if to_ivr {
            let arrival =
                ivr_call::IvrArrival { tx, req, core, source, caller, callee: number, direction: direction_in, trunk };
            self.start_ivr(now, arrival);
            return;
        }
        let target_user = if trunk.is_some() {
            did.and_then(|d| match &d.target {
                DidTarget::User(ext) => Some(ext.clone()),
                DidTarget::Ivr => None,
            })
        } else {
            self.cfg.user(&dialled).map(|u| u.extension.clone())
        };

        let mut targets: Vec<(Uri, Peer, Option<String>)> = Vec::new();
        let direction;
        let mut callee = dialled.clone();
        let mut from_display = from.display;
        let mut from_user_out = caller.clone();
        if let Some(ext) = target_user {
            direction = direction_in;
            callee = ext.clone();
            for b in self.registrar.lookup(&ext, self.wall_ms / 1000) {
                targets.push((b.contact.uri().clone(), b.source, None));
            }
            if targets.is_empty() {
                info!(callee = %Pii(&ext), "callee has no registered phone");
                self.refuse_call(
                    now,
                    tx,
                    &req,
                    &core,
                    CallRefusal { status: 480, reason: None, outcome: Outcome::Unavailable, direction, caller, callee },
                );
                return;
            }
            if let Some(u) = caller_user.as_deref().and_then(|u| self.cfg.user(u)) {
                from_display = Some(u.display.clone());
            }
        } else if let Some(user) = caller_user.as_deref() {
            direction = Direction::Outbound;
            match self.route_outbound(&number) {
                Ok((trunk_name, out_number)) => {
                    let Some(t) = self.cfg.trunk(&trunk_name).cloned() else {
                        return;
                    };
                    let uri: Uri = match t.uri_for(&out_number) {
                        Ok(u) => u,
                        Err(_) => {
                            self.refuse_call(
                                now,
                                tx,
                                &req,
                                &core,
                                CallRefusal {
                                    status: 484,
                                    reason: None,
                                    outcome: Outcome::NotFound,
                                    direction,
                                    caller,
                                    callee,
                                },
                            );
                            return;
                        }
                    };
                    from_user_out = self
                        .cfg
                        .user(user)
                        .and_then(|u| u.caller_id.clone())
                        .unwrap_or_else(|| t.default_caller_id.clone());
                    targets.push((uri, Peer { transport: t.transport, addr: t.proxy }, Some(trunk_name)));
                }
                Err(refusal) => {
                    warn!(caller = %Pii(user), number = %Pii(&number), reason = refusal.1, "outbound call refused");
                    self.refuse_call(
                        now,
                        tx,
                        &req,
                        &core,
                        CallRefusal {
                            status: refusal.0,
                            reason: Some(refusal.1),
                            outcome: Outcome::from_status(refusal.0),
                            direction,
                            caller,
                            callee,
                        },
                    );
                    return;
                }
            }
        } else {
            // From a trunk to a number we do not own: never hairpin out again (toll fraud).
            self.refuse_call(
                now,
                tx,
                &req,
                &core,
                CallRefusal {
                    status: 404,
                    reason: None,
                    outcome: Outcome::NotFound,
                    direction: Direction::Inbound,
                    caller,
                    callee,
                },
            );
            return;
        }

        // Anchored media: svar's ports go into the offer each callee sees.
        let mut anchor = None;
        let mut fork_body = req.body.clone();
        if let Some(m) = self.cfg.media.clone() {
            let a_stream = if req.body.is_empty() {
                None
            } else {
                let text = std::str::from_utf8(&req.body).unwrap_or_default();
                // parsed once: read here, rewritten for the callee below
                match sdp::parse(text).and_then(|p| sdp::stream_of(&p, &m.codecs).map(|s| (s, p))) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        info!(error = %e, "offer svar cannot anchor");
                        self.refuse_call(
                            now,
                            tx,
                            &req,
                            &core,
                            CallRefusal {
                                status: 488,
                                reason: None,
                                outcome: Outcome::Failed,
                                direction,
                                caller,
                                callee,
                            },
                        );
                        return;
                    }
                }
            };
            let Some(ports) = self.take_ports(now) else {
                warn!("no free RTP ports: call refused");
                self.refuse_call(
                    now,
                    tx,
                    &req,
                    &core,
                    CallRefusal { status: 503, reason: None, outcome: Outcome::Failed, direction, caller, callee },
                );
                return;
            };
            let a_stream = a_stream.map(|(stream, parsed)| {
                let facing_b = std::net::SocketAddr::new(m.ip, ports.1);
                let text = std::str::from_utf8(&req.body).unwrap_or_default();
                match sdp::anchor_parsed(&parsed, text, facing_b, &m.codecs) {
                    Ok(b) => fork_body = Bytes::from(b),
                    Err(e) => debug!(error = %e, "offer not anchored"),
                }
                stream
            });
            anchor = Some((ports, a_stream));
        }
        let id = self.alloc_call();
        let a_tag = self.ep.ids().tag();
        let b_tag = self.ep.ids().tag();
        let mut b_call_id = self.ep.ids().call_id();
        b_call_id.push_str("@svar");
        let late_offer = req.body.is_empty();
        let record = CallRecord {
            call_id: core.call_id.clone(),
            direction,
            caller: caller.clone(),
            callee: callee.clone(),
            trunk: targets.first().and_then(|t| t.2.clone()).or(trunk.clone()),
            started_ms: self.wall_ms,
            answered_ms: None,
            ended_ms: self.wall_ms,
            outcome: Outcome::Failed,
            status: 0,
            hangup_by: None,
            flow: None,
        };
        info!(call = id, caller = %Pii(&caller), callee = %Pii(&callee), forks = targets.len(), "new call");
        let mut call = Call {
            state: CallState::Calling,
            a_tx: tx,
            a_invite: req,
            a_core: core,
            a_source: source,
            a_tag,
            a: None,
            b: None,
            b_call_id,
            b_tag,
            forks: Vec::new(),
            pending_b_ack: None,
            late_offer,
            ringing: false,
            ring_deadline: Some(now + self.cfg.ring_timeout),
            record,
            media: None,
            ivr: None,
            conversation_consent: None,
            flow_started: None,
        };
        if let Some((ports, a_stream)) = anchor {
            self.open_media(id, ports, a_stream.as_ref());
            call.media = Some(Anchor { ports, a: a_stream, b: None, offerer: Side::A, held_by: None });
        }
        // built by pushes: these were three `format!`s per call
        let from_hdr = {
            let mut h = String::with_capacity(64);
            if let Some(d) = &from_display {
                h.push_str(&sip_msg::text::quote(d));
                h.push(' ');
            }
            for part in ["<sip:", &from_user_out, "@", &self.cfg.domain, ">;tag=", &call.b_tag] {
                h.push_str(part);
            }
            h
        };
        let to_hdr = ["<sip:", &callee, "@", &self.cfg.domain, ">"].concat();
        for (i, (uri, peer, trunk_name)) in targets.into_iter().enumerate() {
            let mut r = Request::new(Method::Invite, uri.clone());
            r.headers.push(HeaderName::From, from_hdr.as_str());
            r.headers.push(HeaderName::To, to_hdr.as_str());
            r.headers.push(HeaderName::CallId, call.b_call_id.as_str());
            r.headers.push(HeaderName::CSeq, "1 INVITE");
            r.headers.push(HeaderName::Contact, self.contacts.get(peer.transport));
            r.headers.push(HeaderName::Allow, self.allow.clone());
            if !fork_body.is_empty() {
                let ct = call.a_invite.headers.get(&HeaderName::ContentType).unwrap_or("application/sdp").to_owned();
                r.set_body(Some(&ct), fork_body.clone());
            }
            match self.ep.send_request(now, r.clone(), peer) {
                Ok(ctx) => {
                    self.by_ctx.insert(ctx, TxRole::Fork(id, i));
                    call.forks.push(Fork {
                        tx: ctx,
                        request: r,
                        peer,
                        status: None,
                        auth_tried: false,
                        trunk: trunk_name,
                    });
                }
                Err(e) => warn!(error = %e, "fork not sent"),
            }
        }
        if call.forks.is_empty() {
            let anchor = call.media.take();
            self.close_media(now, id, anchor, PortsAfter::Rest);
            let (req, core) = (call.a_invite.clone(), call.a_core.clone());
            self.refuse_call(
                now,
                tx,
                &req,
                &core,
                CallRefusal { status: 503, reason: None, outcome: Outcome::Failed, direction, caller, callee },
            );
            return;
        }
        // forking takes time: stop the caller's retransmissions (§17.2.1)
        let trying = Response::to_request(&call.a_invite, 100);
        self.respond(now, tx, trying);
        if let Some(d) = call.ring_deadline {
            self.timers.push(Reverse((d, PbxTimer::Ring(id))));
        }
        self.by_stx.insert(tx, id);
        self.calls.insert(id, call);
    }

    /// Pick an outbound route, applying the toll-fraud rules ([`crate::config::pick_route`]):
    /// the trunk and the number as sent.
    pub(crate) fn route_outbound(&self, number: &str) -> Result<(String, String), (u16, &'static str)> {
        crate::config::pick_route(&self.cfg.routes, number).map(|(r, n)| (r.trunk.clone(), n))
    }

    // ---- callee responses -------------------------------------------------------------

    fn on_response(&mut self, now: Instant, tx: ClientTxId, resp: Response, core: Core) {
        let Some(role) = self.by_ctx.get(&tx).cloned() else {
            return;
        };
        if resp.status >= 200 && !(core.cseq.method == Method::Invite && resp.status < 300) {
            self.by_ctx.remove(&tx);
        }
        match role {
            TxRole::Fork(id, i) => self.on_fork_response(now, tx, (id, i), resp, core),
            TxRole::Relay { call, stx, request, from } => {
                if resp.status < 200 {
                    return;
                }
                self.by_ctx.remove(&tx);
                if let Some(c) = self.calls.get_mut(&call) {
                    if request.method == Method::Invite {
                        if let Some(l) = c.leg_mut(from.other()) {
                            l.reinvite_out = false;
                        }
                        if let Some(l) = c.leg_mut(from) {
                            l.reinvite_in = false;
                        }
                    }
                    // §13.2.2.4: we ACK the other leg's 2xx ourselves, at once, unless it
                    // carries an offer to a re-INVITE without SDP: then the answer is in
                    // the ACK the requesting side sends us, and our ACK waits for it.
                    let delayed_offer = request.body.is_empty() && !resp.body.is_empty() && is_sdp(&resp.headers);
                    if request.method == Method::Invite
                        && resp.status < 300
                        && let Some(l) = c.leg_mut(from.other())
                    {
                        l.dialog.confirm(&resp);
                        if delayed_offer {
                            l.ack_waits_for_answer = true;
                        } else {
                            let contact = self.contacts.get(l.dialog.peer.transport);
                            let ack = l.dialog.make_ack(l.invite_seq, &contact);
                            let peer = l.dialog.peer;
                            let _ = self.ep.send_ack(ack, peer, None);
                        }
                    }
                }
                let mut r = Response::to_request(&request, resp.status);
                r.reason = resp.reason.clone();
                if !resp.body.is_empty() {
                    let answers_offer = (request.method == Method::Invite || request.method == Method::Update)
                        && (200..300).contains(&resp.status)
                        && is_sdp(&resp.headers);
                    let body = if answers_offer {
                        let role = if request.body.is_empty() { SdpRole::Offer } else { SdpRole::Answer };
                        self.anchor_body(call, from.other(), &resp.body, role).unwrap_or_else(|e| {
                            warn!(call, error = %e, "answer cannot be anchored; relayed as it is");
                            resp.body.clone()
                        })
                    } else {
                        resp.body.clone()
                    };
                    let ct = resp.headers.get(&HeaderName::ContentType).map(str::to_owned);
                    r.set_body(ct.as_deref(), body);
                }
                if request.method == Method::Invite || request.method == Method::Update {
                    r.headers.push(HeaderName::Contact, self.contacts.get(request_transport(&request)));
                }
                self.respond(now, stx, r);
            }
            TxRole::Bye => {}
            TxRole::TrunkRegister(i) => self.on_trunk_register_response(now, i, &resp),
        }
    }

    fn on_fork_response(&mut self, now: Instant, tx: ClientTxId, (id, i): (u64, usize), resp: Response, core: Core) {
        let Some(call) = self.calls.get_mut(&id) else {
            if core.cseq.method == Method::Invite && (200..300).contains(&resp.status) {
                // An answer that crossed our CANCEL after the call ended: hung up here,
                // and the fork is followed no longer (nothing else would forget it).
                self.by_ctx.remove(&tx);
                self.on_orphan_2xx(now, resp, &core, None);
            }
            return;
        };
        let Some(fork) = call.forks.get(i) else {
            return;
        };
        let (fork_peer, fork_done) = (fork.peer, fork.status.is_some());
        let status = resp.status;
        if call.state == CallState::Answered {
            if (200..300).contains(&status) {
                let same = call.b.as_ref().is_some_and(|b| b.dialog.id.remote_tag == core.to.tag().unwrap_or_default());
                if same {
                    // retransmitted 2xx: our ACK was lost
                    if let Some(b) = &call.b {
                        let ack = b.dialog.make_ack(b.invite_seq, &self.contacts.get(fork_peer.transport));
                        let _ = self.ep.send_ack(ack, fork_peer, None);
                    }
                } else {
                    // A losing fork answered across our CANCEL: hang it up and forget it.
                    // (A second answer on the winning fork, forked further on, is hung up
                    // too, but the fork stays followed for its own 2xx retransmissions.)
                    if !fork_done {
                        self.by_ctx.remove(&tx);
                    }
                    self.on_orphan_2xx(now, resp, &core, Some(fork_peer));
                }
            }
            return;
        }
        if call.state == CallState::Ivr {
            match status {
                100..=199 => call.ringing = true,
                200..=299 => self.ivr_answered(now, id, i, &resp, &core),
                _ => {
                    call.forks[i].status = Some(status);
                    if call.forks.iter().all(|f| f.status.is_some()) {
                        self.ivr_unanswered(now, id);
                    }
                }
            }
            return;
        }
        match status {
            100 => {}
            101..=199 => {
                call.ringing = true;
                let mut r = Response::to_request(&call.a_invite, status);
                r.reason = resp.reason.clone();
                let _ = r.ensure_to_tag(&call.a_tag);
                r.headers.push(HeaderName::Contact, self.contacts.get(call.a_source.transport));
                let tx = call.a_tx;
                if !resp.body.is_empty() && is_sdp(&resp.headers) {
                    // early media (a 183 with an answer)
                    match self.anchor_body(id, Side::B, &resp.body, SdpRole::Answer) {
                        Ok(body) => r.set_body(Some("application/sdp"), body),
                        Err(e) => debug!(error = %e, "early media not anchored; provisional relayed without it"),
                    }
                }
                self.respond(now, tx, r);
            }
            200..=299 => self.answer(now, id, i, resp, core),
            _ => {
                // A provider challenge: answer it once with the trunk's credentials.
                if (status == 401 || status == 407)
                    && !fork.auth_tried
                    && let Some(creds) =
                        fork.trunk.as_deref().and_then(|t| self.cfg.trunk(t)).and_then(|t| t.credentials.clone())
                {
                    let hdr = if status == 401 { HeaderName::WwwAuthenticate } else { HeaderName::ProxyAuthenticate };
                    let answer_hdr =
                        if status == 401 { HeaderName::Authorization } else { HeaderName::ProxyAuthorization };
                    let challenge = resp.headers.get(&hdr).unwrap_or_default().to_owned();
                    let mut r = fork.request.clone();
                    let cnonce = format!("{:08x}", self.ep.ids().next_u64() as u32);
                    if let Some(a) = sip::digest::answer_challenge(
                        &challenge,
                        "INVITE",
                        &r.uri.to_string(),
                        &creds.username,
                        &creds.password,
                        &cnonce,
                        1,
                    ) {
                        r.headers.remove(&HeaderName::Via);
                        r.headers.set(HeaderName::CSeq, "2 INVITE");
                        r.headers.set(answer_hdr, a);
                        if let Ok(ctx) = self.ep.send_request(now, r.clone(), fork_peer) {
                            self.by_ctx.insert(ctx, TxRole::Fork(id, i));
                            if let Some(call) = self.calls.get_mut(&id) {
                                let f = &mut call.forks[i];
                                f.tx = ctx;
                                f.request = r;
                                f.auth_tried = true;
                            }
                            return;
                        }
                    }
                }
                call.forks[i].status = Some(status);
                self.maybe_fail(now, id);
            }
        }
    }

    fn answer(&mut self, now: Instant, id: u64, i: usize, resp: Response, core: Core) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.state = CallState::Answered;
        let role = if call.late_offer { SdpRole::Offer } else { SdpRole::Answer };
        let body = if resp.body.is_empty() {
            self.arm_media(id);
            None
        } else {
            match self.anchor_body(id, Side::B, &resp.body, role) {
                Ok(b) => Some(b),
                Err(e) => {
                    warn!(call = id, error = %e, "the callee's SDP cannot be anchored; relayed as it is");
                    Some(resp.body.clone())
                }
            }
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let fork_peer = call.forks[i].peer;
        let mut b_dialog = Dialog::as_uac(&call.forks[i].request, &resp, &core, fork_peer);
        b_dialog.peer = fork_peer;
        let invite_seq = call.forks[i].request.headers.cseq().map(|c| c.seq).unwrap_or(1);
        call.forks[i].status = Some(resp.status);
        call.state = CallState::Answered;
        call.ring_deadline = None;
        call.record.answered_ms = Some(self.wall_ms);
        let b_contact = self.contacts.get(fork_peer.transport);
        if call.late_offer {
            call.pending_b_ack = Some(Bytes::new());
        } else {
            let ack = b_dialog.make_ack(invite_seq, &b_contact);
            let _ = self.ep.send_ack(ack, fork_peer, None);
        }
        self.by_dialog.insert((b_dialog.id.call_id.clone(), b_dialog.id.local_tag.clone()), (id, Side::B));
        call.b = Some(Leg::new(b_dialog, invite_seq));
        // the caller's leg
        let mut r = Response::to_request(&call.a_invite, 200);
        let _ = r.ensure_to_tag(&call.a_tag);
        r.headers.push(HeaderName::Contact, self.contacts.get(call.a_source.transport));
        r.headers.push(HeaderName::Allow, self.allow.clone());
        if let Some(body) = body {
            let ct = resp.headers.get(&HeaderName::ContentType).map(str::to_owned);
            r.set_body(ct.as_deref(), body);
        }
        let a_dialog = Dialog::as_uas(&call.a_invite, &call.a_core, &call.a_tag, call.a_source, true);
        self.by_dialog.insert((a_dialog.id.call_id.clone(), a_dialog.id.local_tag.clone()), (id, Side::A));
        call.a = Some(Leg::new(a_dialog, 0));
        let losers: Vec<ClientTxId> =
            call.forks.iter().enumerate().filter(|(j, f)| *j != i && f.status.is_none()).map(|(_, f)| f.tx).collect();
        let tx = call.a_tx;
        info!(call = id, "answered");
        self.respond(now, tx, r);
        for l in losers {
            let _ = self.ep.send_cancel(now, l);
        }
    }

    /// A 2xx from a callee we no longer want (a losing fork, or after the caller left):
    /// ACK it and hang up at once (RFC 3261 §15: the dialog must be ended).
    fn on_orphan_2xx(&mut self, now: Instant, resp: Response, core: &Core, peer: Option<Peer>) {
        let Some(peer) = peer.or_else(|| self.peer_from_contact(&resp)) else {
            return;
        };
        let req = {
            let mut r = Request::new(
                Method::Invite,
                match resp.headers.contacts() {
                    Ok(Some(sip_msg::Contacts::List(l))) if !l.is_empty() => l[0].uri.clone(),
                    _ => return,
                },
            );
            for name in [HeaderName::From, HeaderName::CallId, HeaderName::CSeq] {
                if let Some(v) = resp.headers.get(&name) {
                    r.headers.push(name, v);
                }
            }
            r
        };
        let mut d = Dialog::as_uac(&req, &resp, core, peer);
        let contact = self.contacts.get(peer.transport);
        let ack = d.make_ack(core.cseq.seq, &contact);
        let _ = self.ep.send_ack(ack, peer, None);
        let bye = d.make_request(Method::Bye, &contact);
        if let Ok(ctx) = self.ep.send_request(now, bye, peer) {
            self.by_ctx.insert(ctx, TxRole::Bye);
        }
    }

    fn peer_from_contact(&self, resp: &Response) -> Option<Peer> {
        let Ok(Some(sip_msg::Contacts::List(l))) = resp.headers.contacts() else {
            return None;
        };
        let u = l.first()?.uri.as_sip()?;
        let ip = u.host.ip()?;
        let t = u.transport().and_then(|t| Transport::from_token(&t)).unwrap_or(Transport::Udp);
        Some(Peer { transport: t, addr: std::net::SocketAddr::new(ip, u.port.unwrap_or(5060)) })
    }

    fn maybe_fail(&mut self, now: Instant, id: u64) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.forks.iter().any(|f| f.status.is_none()) {
            return;
        }
        let statuses: Vec<u16> = call.forks.iter().filter_map(|f| f.status).collect();
        // RFC 3261 §16.7-like choice: busy beats everything, then decline, then not-found
        // only when every fork said so, otherwise "temporarily unavailable".
        let status = if statuses.iter().any(|s| *s == 486 || *s == 600) {
            486
        } else if statuses.contains(&603) {
            603
        } else if statuses.iter().all(|s| *s == 404) {
            404
        } else if statuses.iter().all(|s| *s == 403) {
            403
        } else if statuses.iter().any(|s| *s == 408 || *s == 480 || *s == 487) {
            480
        } else {
            statuses.first().copied().filter(|s| (400..700).contains(s)).unwrap_or(500)
        };
        let outcome = match status {
            480 if call.ringing => Outcome::NoAnswer,
            480 => Outcome::Unavailable,
            s => Outcome::from_status(s),
        };
        self.fail_call(now, id, status, outcome);
    }

    /// The call is gone: stop following its forks that have their final response. An
    /// answered fork is kept while the call lives (a retransmitted 2xx is ACKed again,
    /// §13.2.2.4) and would otherwise stay for good; a fork still waiting keeps its
    /// entry, so an answer that crosses our CANCEL is still ACKed and hung up.
    fn forget_answered_forks(&mut self, call: &Call) {
        for f in call.forks.iter().filter(|f| f.status.is_some()) {
            self.by_ctx.remove(&f.tx);
        }
    }

    fn fail_call(&mut self, now: Instant, id: u64, status: u16, outcome: Outcome) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        self.forget_answered_forks(&call);
        let mut r = Response::to_request(&call.a_invite, status);
        let _ = r.ensure_to_tag(&call.a_tag);
        if status == 480 && outcome == Outcome::NoAnswer {
            r.reason = "Temporarily Unavailable (no answer)".into();
        }
        self.respond(now, call.a_tx, r);
        self.by_stx.remove(&call.a_tx);
        self.close_media(now, id, call.media.take(), PortsAfter::Rest);
        call.record.outcome = outcome;
        call.record.status = status;
        call.record.ended_ms = self.wall_ms;
        self.finish_record(call.record);
    }

    fn on_ring_timeout(&mut self, now: Instant, id: u64, at: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.state == CallState::Ivr && call.ring_deadline == Some(at) {
            self.ivr_unanswered(now, id);
            return;
        }
        if call.state != CallState::Calling || call.ring_deadline != Some(at) {
            return;
        }
        let pending: Vec<ClientTxId> = call.forks.iter().filter(|f| f.status.is_none()).map(|f| f.tx).collect();
        for tx in pending {
            let _ = self.ep.send_cancel(now, tx);
        }
        // Forks still ringing count as "no answer" (408); a fork that said busy still
        // wins the choice of response: a busy employee is news for the caller.
        if let Some(call) = self.calls.get_mut(&id) {
            for f in call.forks.iter_mut().filter(|f| f.status.is_none()) {
                f.status = Some(408);
            }
        }
        self.maybe_fail(now, id);
    }

    fn on_client_timeout(&mut self, now: Instant, tx: ClientTxId) {
        let Some(role) = self.by_ctx.remove(&tx) else {
            return;
        };
        match role {
            TxRole::Fork(id, i) => {
                if let Some(call) = self.calls.get_mut(&id)
                    && matches!(call.state, CallState::Calling | CallState::Ivr)
                    && call.forks.get(i).is_some_and(|f| f.tx == tx)
                {
                    call.forks[i].status = Some(408);
                    if call.state == CallState::Ivr {
                        if call.forks.iter().all(|f| f.status.is_some()) {
                            self.ivr_unanswered(now, id);
                        }
                    } else {
                        self.maybe_fail(now, id);
                    }
                }
            }
            TxRole::Relay { stx, request, .. } => {
                self.respond(now, stx, Response::to_request(&request, 408));
            }
            TxRole::Bye => {}
            TxRole::TrunkRegister(i) => {
                self.trunk_regs[i].registered = false;
                self.timers.push(Reverse((now + Duration::from_secs(60), PbxTimer::TrunkRegister(i))));
            }
        }
    }

    // ---- caller side -----------------------------------------------------------------

    fn on_cancelled(&mut self, now: Instant, invite: ServerTxId) {
        let Some(id) = self.by_stx.get(&invite).copied() else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.state != CallState::Calling {
            return;
        }
        let pending: Vec<ClientTxId> = call.forks.iter().filter(|f| f.status.is_none()).map(|f| f.tx).collect();
        for tx in pending {
            let _ = self.ep.send_cancel(now, tx);
        }
        self.fail_call(now, id, 487, Outcome::Cancelled);
    }

    fn on_ack(&mut self, req: Request, core: Core) {
        let key = (core.call_id.clone(), core.to.tag().unwrap_or_default().to_owned());
        let Some(&(id, side)) = self.by_dialog.get(&key) else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        // the callee's 2xx to the first INVITE waits for the caller's ACK (late offer), or
        // the other leg's 2xx to a relayed re-INVITE without SDP waits for this ACK
        let initial = side == Side::A && call.pending_b_ack.is_some();
        let reinvite = match side.other() {
            Side::A => call.a.as_ref(),
            Side::B => call.b.as_ref(),
        }
        .is_some_and(|l| l.ack_waits_for_answer);
        if !initial && !reinvite {
            return;
        }
        let body = if req.body.is_empty() {
            req.body.clone()
        } else {
            // this side's answer to the other side's offer
            self.anchor_body(id, side, &req.body, SdpRole::Answer).unwrap_or_else(|e| {
                warn!(call = id, error = %e, "an answer in an ACK cannot be anchored; relayed as it is");
                req.body.clone()
            })
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if initial {
            call.pending_b_ack = None;
        }
        if let Some(l) = call.leg_mut(side.other()) {
            l.ack_waits_for_answer = false;
            let mut ack = l.dialog.make_ack(l.invite_seq, &self.contacts.get(l.dialog.peer.transport));
            if !body.is_empty() {
                let ct = req.headers.get(&HeaderName::ContentType).map(str::to_owned);
                ack.set_body(ct.as_deref(), body);
            }
            let peer = l.dialog.peer;
            let _ = self.ep.send_ack(ack, peer, None);
        }
    }

    fn on_in_dialog(&mut self, now: Instant, tx: ServerTxId, req: Request, core: Core, _source: Peer) {
        let key = (core.call_id.clone(), core.to.tag().unwrap_or_default().to_owned());
        let Some(&(id, side)) = self.by_dialog.get(&key) else {
            self.respond(now, tx, Response::to_request(&req, 481));
            return;
        };
        let in_ivr = self.calls.get(&id).is_some_and(|c| c.state == CallState::Ivr);
        let Some(call) = self.calls.get_mut(&id) else {
            self.respond(now, tx, Response::to_request(&req, 481));
            return;
        };
        let Some(leg) = call.leg_mut(side) else {
            self.respond(now, tx, Response::to_request(&req, 481));
            return;
        };
        if let Err(e) = leg.dialog.on_remote_request(&req, &core) {
            debug!(error = %e, "in-dialog request out of order");
            self.respond(now, tx, Response::to_request(&req, 500));
            return;
        }
        if in_ivr && req.method == Method::Info {
            self.ivr_info(now, id, tx, &req);
            return;
        }
        if in_ivr && req.method != Method::Bye {
            // svar holds the call itself: a re-INVITE or UPDATE has nobody to go to yet
            let status = if req.method == Method::Invite || req.method == Method::Update { 488 } else { 200 };
            self.respond(now, tx, Response::to_request(&req, status));
            return;
        }
        match req.method {
            Method::Bye => {
                self.respond(now, tx, Response::to_request(&req, 200));
                let party = if side == Side::A { Party::Caller } else { Party::Callee };
                self.hang_up_from(now, id, party, Some(side));
            }
            Method::Invite => {
                // §14.2: our own re-INVITE is pending on this leg → 491; theirs is still
                // in progress → 500 with Retry-After.
                if leg.reinvite_out {
                    self.respond(now, tx, Response::to_request(&req, 491));
                    return;
                }
                if leg.reinvite_in {
                    let mut r = Response::to_request(&req, 500);
                    r.headers.push(HeaderName::RetryAfter, "1");
                    self.respond(now, tx, r);
                    return;
                }
                leg.reinvite_in = true;
                self.relay(now, id, side, tx, req);
            }
            _ => self.relay(now, id, side, tx, req),
        }
    }

    fn relay(&mut self, now: Instant, id: u64, from: Side, stx: ServerTxId, req: Request) {
        let offer = (req.method == Method::Invite || req.method == Method::Update)
            && !req.body.is_empty()
            && is_sdp(&req.headers);
        let body = if offer {
            match self.anchor_body(id, from, &req.body, SdpRole::Offer) {
                Ok(b) => b,
                Err(e) => {
                    info!(call = id, error = %e, "re-offer svar cannot anchor: 488");
                    if let Some(l) = self.calls.get_mut(&id).and_then(|c| c.leg_mut(from)) {
                        l.reinvite_in = false;
                    }
                    self.respond(now, stx, Response::to_request(&req, 488));
                    return;
                }
            }
        } else {
            req.body.clone()
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(other) = call.leg_mut(from.other()) else {
            self.respond(now, stx, Response::to_request(&req, 481));
            return;
        };
        let contact = self.contacts.get(other.dialog.peer.transport);
        let mut r = other.dialog.make_request(req.method.clone(), &contact);
        if req.method == Method::Invite {
            other.reinvite_out = true;
            other.invite_seq = other.dialog.local_seq;
        }
        if !body.is_empty() {
            let ct = req.headers.get(&HeaderName::ContentType).map(str::to_owned);
            r.set_body(ct.as_deref(), body);
        }
        for name in [HeaderName::Event, HeaderName::Other("Info-Package".into())] {
            if let Some(v) = req.headers.get(&name) {
                r.headers.push(name.clone(), v);
            }
        }
        let peer = other.dialog.peer;
        match self.ep.send_request(now, r, peer) {
            Ok(ctx) => {
                self.by_ctx.insert(ctx, TxRole::Relay { call: id, stx, request: req, from });
            }
            Err(e) => {
                warn!(error = %e, "relay failed");
                self.respond(now, stx, Response::to_request(&req, 500));
            }
        }
    }

    /// svar ends the call (drain deadline, ACK timeout).
    fn hang_up(&mut self, now: Instant, id: u64, by: Party) {
        self.hang_up_from(now, id, by, None);
    }

    /// End a call; `from` is the side that sent BYE (not sent a BYE back).
    fn hang_up_from(&mut self, now: Instant, id: u64, by: Party, from: Option<Side>) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.state == CallState::Calling {
            let pending: Vec<ClientTxId> = call.forks.iter().filter(|f| f.status.is_none()).map(|f| f.tx).collect();
            for tx in pending {
                let _ = self.ep.send_cancel(now, tx);
            }
            let status = if by == Party::System { 503 } else { 487 };
            let outcome = if by == Party::System { Outcome::Failed } else { Outcome::Cancelled };
            self.fail_call(now, id, status, outcome);
            return;
        }
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        self.forget_answered_forks(&call);
        if call.state == CallState::Ivr {
            for f in call.forks.iter().filter(|f| f.status.is_none()) {
                let _ = self.ep.send_cancel(now, f.tx);
            }
            self.ivr_hung_up(now, id, &mut call);
        }
        for side in [Side::A, Side::B] {
            if Some(side) == from {
                continue;
            }
            if let Some(leg) = call.leg_mut(side) {
                let contact = self.contacts.get(leg.dialog.peer.transport);
                let bye = leg.dialog.make_request(Method::Bye, &contact);
                let peer = leg.dialog.peer;
                if let Ok(ctx) = self.ep.send_request(now, bye, peer) {
                    self.by_ctx.insert(ctx, TxRole::Bye);
                }
            }
        }
        for leg in [call.a.as_ref(), call.b.as_ref()].into_iter().flatten() {
            self.by_dialog.remove(&(leg.dialog.id.call_id.clone(), leg.dialog.id.local_tag.clone()));
        }
        self.by_stx.remove(&call.a_tx);
        if let Some(consent_ms) = call.conversation_consent {
            self.ended_conversations.insert(id, (call.record.call_id.clone(), call.record.caller.clone(), consent_ms));
        }
        self.close_media(now, id, call.media.take(), PortsAfter::Rest);
        call.record.outcome = Outcome::Answered;
        call.record.status = 200;
        call.record.hangup_by = Some(by);
        call.record.ended_ms = self.wall_ms;
        self.finish_record(call.record);
    }

    // ---- provider registration --------------------------------------------------------

    fn send_trunk_register(&mut self, now: Instant, i: usize, auth: Option<(HeaderName, String)>) {
        let Some(reg) = self.trunk_regs.get_mut(i) else {
            return;
        };
        let Some(trunk) = self.cfg.trunks.get(reg.trunk).cloned() else {
            return;
        };
        let Some(creds) = trunk.credentials.clone() else {
            return;
        };
        if reg.call_id.is_empty() {
            reg.call_id = format!("{}@svar", self.ep.ids().call_id());
            reg.tag = self.ep.ids().tag();
        }
        reg.cseq += 1;
        if auth.is_none() {
            reg.auth_tried = false;
        }
        let host = sip_msg::Host::from(trunk.proxy.ip());
        let Ok(uri) = format!("sip:{host}:{}", trunk.proxy.port()).parse::<Uri>() else {
            return;
        };
        let mut r = Request::new(Method::Register, uri);
        r.headers.push(HeaderName::From, format!("<sip:{}@{host}>;tag={}", creds.username, reg.tag));
        r.headers.push(HeaderName::To, format!("<sip:{}@{host}>", creds.username));
        r.headers.push(HeaderName::CallId, reg.call_id.as_str());
        r.headers.push(HeaderName::CSeq, format!("{} REGISTER", reg.cseq));
        r.headers.push(HeaderName::Contact, self.contacts.get(trunk.transport));
        r.headers.push(HeaderName::Expires, "600");
        if let Some((name, value)) = auth {
            r.headers.push(name, value);
        }
        let peer = Peer { transport: trunk.transport, addr: trunk.proxy };
        match self.ep.send_request(now, r, peer) {
            Ok(ctx) => {
                self.by_ctx.insert(ctx, TxRole::TrunkRegister(i));
            }
            Err(e) => warn!(trunk = %trunk.name, error = %e, "trunk REGISTER not sent"),
        }
    }

    fn on_trunk_register_response(&mut self, now: Instant, i: usize, resp: &Response) {
        let Some(reg) = self.trunk_regs.get_mut(i) else {
            return;
        };
        let Some(trunk) = self.cfg.trunks.get(reg.trunk).cloned() else {
            return;
        };
        match resp.status {
            200..=299 => {
                reg.registered = true;
                let expires = resp
                    .headers
                    .contacts()
                    .ok()
                    .flatten()
                    .and_then(|c| match c {
                        sip_msg::Contacts::List(l) => l
                            .first()
                            .and_then(|n| n.param("expires"))
                            .and_then(|p| p.value.as_deref())
                            .and_then(|v| v.parse::<u64>().ok()),
                        sip_msg::Contacts::Star => None,
                    })
                    .or_else(|| resp.headers.expires().ok().flatten().map(u64::from))
                    .unwrap_or(600);
                info!(trunk = %trunk.name, expires, "registered with provider");
                self.timers
                    .push(Reverse((now + Duration::from_secs((expires / 2).max(30)), PbxTimer::TrunkRegister(i))));
            }
            401 | 407 if !reg.auth_tried => {
                reg.auth_tried = true;
                let (ch, ans) = if resp.status == 401 {
                    (HeaderName::WwwAuthenticate, HeaderName::Authorization)
                } else {
                    (HeaderName::ProxyAuthenticate, HeaderName::ProxyAuthorization)
                };
                let challenge = resp.headers.get(&ch).unwrap_or_default().to_owned();
                let Some(creds) = trunk.credentials.clone() else {
                    return;
                };
                let uri = format!("sip:{}:{}", sip_msg::Host::from(trunk.proxy.ip()), trunk.proxy.port());
                let cnonce = format!("{:08x}", self.ep.ids().next_u64() as u32);
                if let Some(a) = sip::digest::answer_challenge(
                    &challenge,
                    "REGISTER",
                    &uri,
                    &creds.username,
                    &creds.password,
                    &cnonce,
                    1,
                ) {
                    self.send_trunk_register(now, i, Some((ans, a)));
                }
            }
            s => {
                reg.registered = false;
                warn!(trunk = %trunk.name, status = s, "provider refused registration; retrying in 60 s");
                self.timers.push(Reverse((now + Duration::from_secs(60), PbxTimer::TrunkRegister(i))));
            }
        }
    }
}

/// A body is SDP when it says so, or says nothing (RFC 3261 §20.15 default for INVITE).
fn is_sdp(headers: &sip_msg::Headers) -> bool {
    headers.get(&HeaderName::ContentType).is_none_or(|ct| ct.trim().to_ascii_lowercase().starts_with("application/sdp"))
}

fn request_transport(req: &Request) -> Transport {
    req.headers.top_via_field().ok().and_then(|v| Transport::from_token(v.transport())).unwrap_or(Transport::Udp)
}
