//! The main number answered by svar: the caller's leg is answered with svar's own SDP,
//! the IVR runner decides what the caller hears and where the call goes, keys arrive
//! from the media (RFC 4733 or in-band) or as SIP INFO; a target rings with Danish
//! ringback in the caller's ear and is bridged on answer (transcoded if the employee's
//! phone chose the other G.711), and a target that does not answer turns into a message
//! for its owner (P1): a recording that becomes an obligation. No path ends in silence.

use std::cmp::Reverse;
use std::time::Instant;

use bytes::Bytes;
use ivr::{Input as IvrInput, Output as IvrOutput, Runner, Step, Target};
use media::prompt::{Player, Prompt};
use media::relay::{Feed, Leg as MLeg, LegStream};
use rtp::telephone_event::KeyEvent;
use sip::dialog::Dialog;
use sip::{ClientTxId, Peer, ServerTxId};
use sip_msg::{Core, HeaderName, Method, Pii, Request, Response, Uri};
use tracing::{debug, info, warn};

use super::anchor::Anchor;
use super::{Pbx, PbxTimer, TxRole};
use crate::PbxOutput;
use crate::call::{Call, CallState, Fork, Leg, Side};
use crate::ivr_setup::{RecordedMessage, target_key};
use crate::media::MediaOp;
use crate::record::{CallRecord, Direction, Outcome};

/// Where an IVR caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IvrPhase {
    /// In the menus.
    Menu,
    /// A target is ringing; if nobody answers, a message for this owner.
    Ringing { owner: String },
    /// Hearing "leave a message", then recording for this owner.
    BeforeRecording { owner: String },
    /// Recording.
    Recording { owner: String },
    /// Hearing the thanks; then svar hangs up.
    Goodbye,
}

/// One caller in the IVR.
#[derive(Debug)]
pub(crate) struct IvrCall {
    pub(crate) runner: Runner,
    pub(crate) phase: IvrPhase,
    pub(crate) lang: String,
    /// When svar answered.
    pub(crate) started: Instant,
    /// What call control did beyond the menus (rang whom, who answered, the message).
    pub(crate) events: Vec<(Instant, String)>,
    /// When the caller consented to the conversation being recorded (Unix ms).
    pub(crate) consent_ms: Option<i64>,
}

impl IvrCall {
    fn note(&mut self, at: Instant, what: impl Into<String>) {
        self.events.push((at, what.into()));
    }

    /// The call's path as stored with its record: `+<ms> <step>` per line, in order.
    pub(crate) fn flow(&self) -> String {
        let mut steps: Vec<(Instant, String)> = self.runner.trace().iter().map(|t| (t.at, describe(&t.step))).collect();
        steps.extend(self.events.iter().cloned());
        steps.sort_by_key(|(at, _)| *at);
        let lines: Vec<String> = steps
            .into_iter()
            .map(|(at, what)| format!("+{} {what}", at.saturating_duration_since(self.started).as_millis()))
            .collect();
        lines.join("\n")
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Entered(m) => format!("entered {}", m.0),
        Step::Closed(d) => format!("closed {d}"),
        Step::Played(p) => format!("played {}", p.join(",")),
        Step::Chose(k) => format!("key {k}"),
        Step::Invalid(k) => format!("invalid key {k}"),
        Step::NoInput => "no input".to_owned(),
        Step::Fallback(m) => format!("fallback from {}", m.0),
        Step::Language(l) => format!("language {l}"),
        Step::Routed(t) => format!("routed {}", target_key(t)),
        Step::Recording(o) => format!("message for {o}"),
        Step::Consented => "consented".to_owned(),
    }
}

/// Facts about a new IVR call.
pub(crate) struct IvrArrival {
    pub(crate) tx: ServerTxId,
    pub(crate) req: Request,
    pub(crate) core: Core,
    pub(crate) source: Peer,
    pub(crate) caller: String,
    pub(crate) callee: String,
    pub(crate) direction: Direction,
    pub(crate) trunk: Option<String>,
}

/// The key that withdraws recording consent during the conversation (the star key,
/// which no menu needs while the caller talks to an employee).
pub(crate) const WITHDRAW_CONSENT_KEY: char = '*';

/// Five seconds of the Danish ringback, looped while a target rings.
fn ringback() -> Prompt {
    let mut c = media::tone::Cadence::danish_ringback();
    let mut samples = Vec::with_capacity(40_000);
    for _ in 0..250 {
        samples.extend_from_slice(&c.next_frame());
    }
    Prompt::from_samples(samples)
}

impl Pbx {
    /// The wall clock of the current input as a timestamp.
    fn wall_timestamp(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.wall_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Does this number reach the IVR?
    pub(crate) fn is_ivr_number(&self, number: &str) -> bool {
        self.cfg.ivr.is_some() && self.cfg.ivr_numbers.iter().any(|n| n == number)
    }

    /// Answer a call to the main number with svar's own SDP and start the menus.
    pub(crate) fn start_ivr(&mut self, now: Instant, a: IvrArrival) {
        let IvrArrival { tx, req, core, source, caller, callee, direction, trunk } = a;
        let refuse = |pbx: &mut Self, status: u16, why: &str| {
            info!(status, why, "IVR call refused");
            pbx.refuse_call(
                now,
                tx,
                &req,
                &core,
                super::CallRefusal {
                    status,
                    reason: None,
                    outcome: Outcome::Failed,
                    direction,
                    caller: caller.clone(),
                    callee: callee.clone(),
                },
            );
        };
        let (Some(m), Some(setup)) = (self.cfg.media.clone(), self.cfg.ivr.clone()) else {
            refuse(self, 503, "the IVR needs anchored media");
            return;
        };
        let Some(ports) = self.take_ports(now) else {
            refuse(self, 503, "no free RTP ports");
            return;
        };
        let release = |pbx: &mut Self| {
            if let Some(pool) = pbx.ports.as_mut() {
                let _ = pool.release(ports.0, now);
            }
        };
        let offer = std::str::from_utf8(&req.body).unwrap_or_default();
        let local = std::net::SocketAddr::new(m.ip, ports.0);
        let session = self.ep.ids().next_u64() >> 1;
        let (answer, negotiated) = match sdp::answer(offer, local, &m.codecs, session) {
            Ok(x) => x,
            Err(e) => {
                release(self);
                // no offer at all (late offer) is not supported for the IVR yet: 488 too
                refuse(self, 488, &e.to_string());
                return;
            }
        };
        let id = self.alloc_call();
        let a_tag = self.ep.ids().tag();
        let record = CallRecord {
            call_id: core.call_id.clone(),
            direction,
            caller: caller.clone(),
            callee: callee.clone(),
            trunk,
            started_ms: self.wall_ms,
            answered_ms: Some(self.wall_ms),
            ended_ms: self.wall_ms,
            outcome: Outcome::Failed,
            status: 0,
            hangup_by: None,
            flow: None,
        };
        let mut r = Response::to_request(&req, 200);
        let _ = r.ensure_to_tag(&a_tag);
        r.headers.push(HeaderName::Contact, self.contacts.get(source.transport));
        r.headers.push(HeaderName::Allow, self.allow.clone());
        r.set_body(Some("application/sdp"), Bytes::from(answer));
        let a_dialog = Dialog::as_uas(&req, &core, &a_tag, source, true);
        self.by_dialog.insert((a_dialog.id.call_id.clone(), a_dialog.id.local_tag.clone()), (id, Side::A));
        let a_stream = sdp::stream(offer, &m.codecs).ok();
        let facts =
            ivr::Facts { closed: setup.calendar.as_ref().map(|c| c.closed(self.wall_timestamp())).unwrap_or_default() };
        let runner = Runner::start(setup.menus.clone(), facts, &setup.language, now);
        let call = Call {
            state: CallState::Ivr,
            a_tx: tx,
            a_invite: req,
            a_core: core,
            a_source: source,
            a_tag,
            a: Some(Leg::new(a_dialog, 0)),
            b: None,
            b_call_id: format!("{}@svar", self.ep.ids().call_id()),
            b_tag: self.ep.ids().tag(),
            forks: Vec::new(),
            pending_b_ack: None,
            late_offer: false,
            ringing: false,
            ring_deadline: None,
            record,
            media: Some(Anchor { ports, a: a_stream.clone(), b: None, offerer: Side::A, held_by: None }),
            ivr: Some(IvrCall {
                runner,
                phase: IvrPhase::Menu,
                lang: setup.language.clone(),
                started: now,
                events: Vec::new(),
                consent_ms: None,
            }),
            conversation_consent: None,
            flow_started: None,
        };
        info!(call = id, caller = %Pii(&caller), "main number answered by the IVR");
        self.by_stx.insert(tx, id);
        self.calls.insert(id, call);
        self.respond(now, tx, r);
        // media: leg A as answered, watched; it hears the menus
        let mut a_cfg = self.leg_config(a_stream.as_ref());
        a_cfg.codec = negotiated.codec;
        a_cfg.payload_type = negotiated.payload_type;
        a_cfg.dtmf_payload_type = negotiated.dtmf_payload_type;
        a_cfg.remote = Some(negotiated.remote);
        let b_cfg = self.leg_config(None);
        self.out.push_back(PbxOutput::Media(MediaOp::Open { call: id, ports, a: a_cfg.clone(), b: b_cfg }));
        let watch = a_stream.as_ref().is_some_and(sdp::Stream::sends);
        let stream = LegStream {
            remote: a_cfg.remote,
            codec: a_cfg.codec,
            payload_type: a_cfg.payload_type,
            dtmf_payload_type: a_cfg.dtmf_payload_type,
            watch,
        };
        self.out.push_back(PbxOutput::Media(MediaOp::Stream { call: id, leg: MLeg::A, stream }));
        if negotiated.dtmf_payload_type.is_none() {
            // a phone without telephone-event sends its keys as tones
            self.out.push_back(PbxOutput::Media(MediaOp::ListenInband { call: id, leg: MLeg::A }));
        }
        self.ivr_pump(now, id);
    }

    /// Act on what the runner asks, and arm its timer.
    pub(crate) fn ivr_pump(&mut self, now: Instant, id: u64) {
        loop {
            let Some(call) = self.calls.get_mut(&id) else { return };
            let Some(ivr) = call.ivr.as_mut() else { return };
            let Some(o) = ivr.runner.poll_output() else {
                if let Some(at) = ivr.runner.poll_timeout() {
                    self.timers.push(Reverse((at, PbxTimer::Ivr(id))));
                }
                return;
            };
            match o {
                IvrOutput::Play { prompt, lang, .. } => {
                    ivr.lang = lang.clone();
                    self.ivr_play(id, &lang, &prompt.0);
                }
                IvrOutput::StopPlayback => {
                    self.out.push_back(PbxOutput::Media(MediaOp::Feed { call: id, leg: MLeg::A, feed: Feed::Silence }));
                }
                IvrOutput::Route(target) => self.ivr_route(now, id, &target),
                IvrOutput::Record { owner } => self.ivr_record(id, owner),
                IvrOutput::Consent => {
                    ivr.consent_ms = Some(self.wall_ms);
                    ivr.note(now, "consent to recording (key press)");
                }
            }
        }
    }

    fn ivr_play(&mut self, id: u64, lang: &str, names: &[String]) {
        let Some(setup) = self.cfg.ivr.as_ref() else { return };
        let prompts: Vec<Prompt> = names.iter().filter_map(|n| setup.prompt(lang, n).cloned()).collect();
        if prompts.len() < names.len() {
            warn!(call = id, ?names, lang, "a prompt is missing; playing the rest");
        }
        let feed = Feed::Playing(Player::sequence(prompts));
        self.out.push_back(PbxOutput::Media(MediaOp::Feed { call: id, leg: MLeg::A, feed }));
    }

    /// "Leave a message after the tone", then record for `owner`.
    fn ivr_record(&mut self, id: u64, owner: String) {
        let lang = self.calls.get(&id).and_then(|c| c.ivr.as_ref()).map(|i| i.lang.clone()).unwrap_or_default();
        if let Some(ivr) = self.calls.get_mut(&id).and_then(|c| c.ivr.as_mut()) {
            ivr.phase = IvrPhase::BeforeRecording { owner };
        }
        self.ivr_play(id, &lang, &["indtal-besked".to_owned()]);
    }

    /// Ring the extensions of a target with svar's own offer; the caller hears ringback.
    fn ivr_route(&mut self, now: Instant, id: u64, target: &Target) {
        let Some(setup) = self.cfg.ivr.clone() else { return };
        let key = target_key(target);
        let owner = setup.owners.get(&key).cloned().unwrap_or_else(|| setup.last_resort_owner.clone());
        let wall_s = self.wall_ms / 1000;
        let contacts: Vec<Destination> = match target {
            // An external number leaves through an outbound route, under the same
            // toll-fraud rules as an employee dialling it.
            Target::External(number) => match self.external_destination(number) {
                Ok(d) => vec![d],
                Err(reason) => {
                    warn!(call = id, number = %Pii(number), reason, "IVR: external target not dialled");
                    if let Some(ivr) = self.calls.get_mut(&id).and_then(|c| c.ivr.as_mut()) {
                        ivr.note(now, format!("{key} refused: {reason}"));
                    }
                    Vec::new()
                }
            },
            _ => setup
                .rings
                .get(&key)
                .into_iter()
                .flatten()
                .flat_map(|e| {
                    self.registrar.lookup(e, wall_s).into_iter().map(|b| Destination {
                        to_user: e.clone(),
                        to_host: self.cfg.domain.clone(),
                        uri: b.contact.uri().clone(),
                        peer: b.source,
                        trunk: None,
                        from_user: None,
                    })
                })
                .collect(),
        };
        info!(call = id, target = %key, phones = contacts.len(), "IVR: putting the caller through");
        if contacts.is_empty() {
            if let Some(ivr) = self.calls.get_mut(&id).and_then(|c| c.ivr.as_mut()) {
                ivr.note(now, format!("no phone for {key}"));
            }
            self.ivr_record(id, owner);
            return;
        }
        let Some(m) = self.cfg.media.clone() else { return };
        let Some(call) = self.calls.get(&id) else { return };
        let Some(anchor) = call.media.as_ref() else { return };
        let local = std::net::SocketAddr::new(m.ip, anchor.ports.1);
        let session = self.ep.ids().next_u64() >> 1;
        let offer = Bytes::from(sdp::offer(local, &m.codecs, Some(m.dtmf_payload_type), session));
        let caller = call.record.caller.clone();
        let b_call_id = call.b_call_id.clone();
        let b_tag = call.b_tag.clone();
        let mut forks = Vec::new();
        for (i, d) in contacts.into_iter().enumerate() {
            let Destination { to_user, to_host, uri, peer, trunk, from_user } = d;
            let from_user = from_user.unwrap_or_else(|| caller.clone());
            let from_hdr = format!("<sip:{from_user}@{}>;tag={b_tag}", self.cfg.domain);
            let mut r = Request::new(Method::Invite, uri);
            r.headers.push(HeaderName::From, from_hdr);
            r.headers.push(HeaderName::To, format!("<sip:{to_user}@{to_host}>"));
            r.headers.push(HeaderName::CallId, b_call_id.as_str());
            r.headers.push(HeaderName::CSeq, "1 INVITE");
            r.headers.push(HeaderName::Contact, self.contacts.get(peer.transport));
            r.headers.push(HeaderName::Allow, self.allow.clone());
            r.set_body(Some("application/sdp"), offer.clone());
            match self.ep.send_request(now, r.clone(), peer) {
                Ok(ctx) => {
                    self.by_ctx.insert(ctx, TxRole::Fork(id, i));
                    forks.push(Fork { tx: ctx, request: r, peer, status: None, auth_tried: false, trunk });
                }
                Err(e) => warn!(error = %e, "IVR transfer INVITE not sent"),
            }
        }
        let deadline = now + setup.transfer_timeout;
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.forks = forks;
        call.ring_deadline = Some(deadline);
        if let Some(ivr) = call.ivr.as_mut() {
            ivr.note(now, format!("ringing {key} on {} phone(s)", call.forks.len()));
            ivr.phase = IvrPhase::Ringing { owner };
        }
        self.timers.push(Reverse((deadline, PbxTimer::Ring(id))));
        let feed = Feed::Playing(Player::looping(ringback()));
        self.out.push_back(PbxOutput::Media(MediaOp::Feed { call: id, leg: MLeg::A, feed }));
    }

    /// Where an external number goes: the outbound route's trunk, the number as the
    /// route rewrites it, and the trunk's caller id (a provider takes only numbers the
    /// municipality owns as the calling party).
    fn external_destination(&self, number: &str) -> Result<Destination, &'static str> {
        let number = crate::numbers::normalise(number);
        let (trunk_name, out_number) = self.route_outbound(&number).map_err(|(_, reason)| reason)?;
        let trunk = self.cfg.trunk(&trunk_name).ok_or("route names an unknown trunk")?;
        let uri = trunk.uri_for(&out_number).map_err(|_| "number is not dialable")?;
        Ok(Destination {
            to_user: out_number,
            to_host: sip_msg::Host::from(trunk.proxy.ip()).to_string(),
            uri,
            peer: Peer { transport: trunk.transport, addr: trunk.proxy },
            trunk: Some(trunk_name),
            from_user: Some(trunk.default_caller_id.clone()),
        })
    }

    /// An employee answered an IVR caller: bridge them.
    pub(crate) fn ivr_answered(&mut self, now: Instant, id: u64, i: usize, resp: &Response, core: &Core) {
        let codecs = self.cfg.media.as_ref().map(|m| m.codecs.clone()).unwrap_or_default();
        let Some(call) = self.calls.get_mut(&id) else { return };
        let fork_peer = call.forks[i].peer;
        let mut b_dialog = Dialog::as_uac(&call.forks[i].request, resp, core, fork_peer);
        b_dialog.peer = fork_peer;
        call.forks[i].status = Some(resp.status);
        call.state = CallState::Answered;
        call.ring_deadline = None;
        let record_conversations = self.cfg.record_conversations;
        let mut record_now = false;
        if let Some(mut ivr) = call.ivr.take() {
            let to = call.forks[i].request.headers.get(&HeaderName::To).unwrap_or_default();
            let who = sip_msg::NameAddr::parse(to, "To").ok().and_then(|n| n.uri.as_sip().and_then(|u| u.user.clone()));
            ivr.note(now, format!("answered by {}", who.unwrap_or_default()));
            if let (Some(consent), true) = (ivr.consent_ms, record_conversations) {
                ivr.note(now, "recording the conversation");
                call.conversation_consent = Some(consent);
                record_now = true;
            }
            call.record.flow = Some(ivr.flow());
            call.flow_started = Some(ivr.started);
        }
        let ack = b_dialog.make_ack(1, &self.contacts.get(fork_peer.transport));
        let _ = self.ep.send_ack(ack, fork_peer, None);
        self.by_dialog.insert((b_dialog.id.call_id.clone(), b_dialog.id.local_tag.clone()), (id, Side::B));
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.b = Some(Leg::new(b_dialog, 1));
        let losers: Vec<ClientTxId> =
            call.forks.iter().enumerate().filter(|(j, f)| *j != i && f.status.is_none()).map(|(_, f)| f.tx).collect();
        let body = std::str::from_utf8(&resp.body).unwrap_or_default();
        match sdp::stream(body, &codecs) {
            Ok(s) => {
                let stream = LegStream {
                    remote: Some(s.remote),
                    codec: s.codecs[0].1,
                    payload_type: s.codecs[0].0,
                    dtmf_payload_type: s.dtmf_payload_type,
                    watch: s.sends(),
                };
                if let Some(a) = call.media.as_mut() {
                    a.b = Some(s);
                }
                self.out.push_back(PbxOutput::Media(MediaOp::Stream { call: id, leg: MLeg::B, stream }));
            }
            Err(e) => warn!(call = id, error = %e, "the employee's answer has no usable audio"),
        }
        for leg in [MLeg::A, MLeg::B] {
            self.out.push_back(PbxOutput::Media(MediaOp::Feed { call: id, leg, feed: Feed::Bridged }));
        }
        if record_now {
            self.out.push_back(PbxOutput::Media(MediaOp::RecordConversation { call: id }));
        }
        info!(call = id, "IVR caller put through and answered");
        for l in losers {
            let _ = self.ep.send_cancel(now, l);
        }
    }

    /// Nobody answered the target: a message for its owner instead.
    pub(crate) fn ivr_unanswered(&mut self, now: Instant, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let pending: Vec<ClientTxId> = call.forks.iter().filter(|f| f.status.is_none()).map(|f| f.tx).collect();
        call.ring_deadline = None;
        let owner = match call.ivr.as_ref().map(|i| &i.phase) {
            Some(IvrPhase::Ringing { owner }) => owner.clone(),
            _ => return,
        };
        for tx in pending {
            let _ = self.ep.send_cancel(now, tx);
        }
        info!(call = id, owner = %owner, "IVR target did not answer: the caller may leave a message");
        if let Some(ivr) = self.calls.get_mut(&id).and_then(|c| c.ivr.as_mut()) {
            ivr.note(now, "no answer");
        }
        self.ivr_record(id, owner);
    }

    /// A key from an IVR caller (RFC 4733, in-band or SIP INFO).
    pub(crate) fn ivr_key(&mut self, now: Instant, id: u64, key: char) {
        if key == WITHDRAW_CONSENT_KEY && self.calls.get(&id).is_some_and(|c| c.conversation_consent.is_some()) {
            self.withdraw_consent(now, id);
            return;
        }
        let Some(ivr) = self.calls.get_mut(&id).and_then(|c| c.ivr.as_mut()) else { return };
        if ivr.phase == IvrPhase::Menu {
            ivr.runner.handle_input(now, IvrInput::Key(key));
            self.ivr_pump(now, id);
        }
    }

    /// The caller pressed the withdrawal key while the conversation was recorded: the
    /// recording stops and what was recorded is discarded; the consent and its withdrawal
    /// are kept.
    fn withdraw_consent(&mut self, now: Instant, id: u64) {
        let wall_ms = self.wall_ms;
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(consent_ms) = call.conversation_consent.take() else { return };
        let what = "consent withdrawn; the recording was discarded";
        if let Some(ivr) = call.ivr.as_mut() {
            ivr.note(now, what);
        } else if let (Some(flow), Some(started)) = (call.record.flow.as_mut(), call.flow_started) {
            // the IVR handed the call over: its trace is already in the record
            flow.push_str(&format!("\n+{} {what}", now.saturating_duration_since(started).as_millis()));
        }
        info!(call = id, "the caller withdrew consent: recording discarded");
        let withdrawn = crate::ivr_setup::ConsentWithdrawn {
            call_id: call.record.call_id.clone(),
            caller: call.record.caller.clone(),
            consent_ms,
            withdrawn_ms: wall_ms,
        };
        self.out.push_back(PbxOutput::Media(MediaOp::DiscardConversation { call: id }));
        self.out.push_back(PbxOutput::Recording(crate::ivr_setup::Recording::Withdrawn(withdrawn)));
    }

    /// A key event from the media.
    pub(crate) fn ivr_key_event(&mut self, now: Instant, id: u64, event: KeyEvent) {
        if let KeyEvent::Start { key, .. } = event {
            self.ivr_key(now, id, key.as_char());
        }
    }

    /// What the caller was hearing has finished.
    pub(crate) fn ivr_playback_done(&mut self, now: Instant, id: u64) {
        let Some(ivr) = self.calls.get_mut(&id).and_then(|c| c.ivr.as_mut()) else { return };
        match ivr.phase.clone() {
            IvrPhase::Menu => {
                ivr.runner.handle_input(now, IvrInput::PromptDone);
                self.ivr_pump(now, id);
            }
            IvrPhase::BeforeRecording { owner } => {
                ivr.note(now, format!("recording for {owner}"));
                ivr.phase = IvrPhase::Recording { owner };
                let limits = self.cfg.ivr.as_ref().map(|s| s.record_limits).unwrap_or_default();
                self.out.push_back(PbxOutput::Media(MediaOp::Record { call: id, leg: MLeg::A, limits }));
            }
            IvrPhase::Goodbye => self.hang_up(now, id, crate::record::Party::System),
            IvrPhase::Ringing { .. } | IvrPhase::Recording { .. } => {}
        }
    }

    /// A message is recorded: it goes to the ledger; the caller hears thanks.
    pub(crate) fn ivr_recorded(&mut self, id: u64, wav: Vec<u8>, length: std::time::Duration) {
        let from_call = self.calls.get_mut(&id).and_then(|c| {
            let owner = match c.ivr.as_ref().map(|i| &i.phase) {
                Some(IvrPhase::Recording { owner }) => owner.clone(),
                _ => return None,
            };
            if let Some(ivr) = c.ivr.as_mut() {
                ivr.phase = IvrPhase::Goodbye;
            }
            Some((c.record.call_id.clone(), c.record.caller.clone(), owner, c.ivr.as_ref().map(|i| i.lang.clone())))
        });
        let (call_id, caller, owner, lang) = match from_call {
            Some((a, b, c, lang)) => (a, b, c, lang),
            None => match self.hung_up_recordings.remove(&id) {
                Some((a, b, c)) => (a, b, c, None),
                None => return,
            },
        };
        info!(call = id, owner = %owner, length_ms = length.as_millis() as u64, "message recorded");
        // "Tak for beskeden. Vi ringer dig op senest onsdag den 2. december." (P3); the date
        // is read in Danish only, the prompt set having no English dates.
        let by = self
            .cfg
            .ivr
            .as_ref()
            .and_then(|s| s.calendar.as_ref())
            .and_then(|c| c.callback_by(&owner, self.wall_timestamp()));
        let message = RecordedMessage { call_id, caller, owner, wav, length };
        self.out.push_back(PbxOutput::Recording(crate::ivr_setup::Recording::Message(message)));
        if let Some(lang) = lang {
            let mut names = vec!["tak-for-beskeden".to_owned()];
            if let (Some(date), "da") = (by, lang.as_str()) {
                names.extend(ivr::speech::callback_by(date));
            }
            self.ivr_play(id, &lang, &names);
        }
    }

    /// The caller hung up while recording: the message still counts (it arrives when
    /// the media closes).
    pub(crate) fn ivr_hung_up(&mut self, now: Instant, id: u64, call: &mut Call) {
        if let Some(ivr) = call.ivr.as_mut() {
            ivr.note(now, "call ended");
            call.record.flow = Some(ivr.flow());
        }
        if let Some(IvrPhase::Recording { owner }) = call.ivr.as_ref().map(|i| &i.phase) {
            self.hung_up_recordings
                .insert(id, (call.record.call_id.clone(), call.record.caller.clone(), owner.clone()));
        }
        if let Some(ivr) = call.ivr.as_ref() {
            debug!(call = id, steps = ivr.runner.trace().len(), "IVR call flow ended");
        }
    }

    /// SIP INFO with `application/dtmf-relay` on an IVR call.
    pub(crate) fn ivr_info(&mut self, now: Instant, id: u64, tx: ServerTxId, req: &Request) {
        self.respond(now, tx, Response::to_request(req, 200));
        let body = std::str::from_utf8(&req.body).unwrap_or_default();
        let ct = req.headers.get(&HeaderName::ContentType).unwrap_or_default().to_ascii_lowercase();
        let key = if ct.starts_with("application/dtmf-relay") {
            rtp::dtmf_relay::parse_dtmf_relay(body)
        } else {
            rtp::dtmf_relay::parse_dtmf(body)
        };
        match key {
            Ok(k) => self.ivr_key(now, id, k.key.as_char()),
            Err(e) => debug!(call = id, error = %e, "INFO without a key"),
        }
    }
}

/// One phone (or trunk) an IVR transfer rings.
struct Destination {
    /// The To user: an extension, or the number as sent to the provider.
    to_user: String,
    /// The To host: svar's domain, or the trunk's address.
    to_host: String,
    /// Request-URI.
    uri: Uri,
    /// Where to send it.
    peer: Peer,
    /// The trunk, when the destination is outside (its digest challenge is answered).
    trunk: Option<String>,
    /// The From user when not the caller's own number (a trunk's caller id).
    from_user: Option<String>,
}
