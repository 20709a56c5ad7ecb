//! Client and server transaction state machines (RFC 3261 §17 with RFC 6026).
//!
//! One type per kind of transaction; each holds only its own timers. A transaction never
//! sends or reads a clock: it returns [`Action`]s the endpoint turns into output.

use std::time::{Duration, Instant};

use sip_msg::{Method, Response};

use crate::timers::{TimerConfig, TsxTimer};
use crate::transport::Peer;

/// What a transaction asks the endpoint to do after an input.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send these bytes to the transaction's peer.
    Send(Vec<u8>),
    /// Hand a response to the transaction user.
    DeliverResponse(Response),
    /// The transaction timed out (Timer B or F): the TU sees a 408.
    TimedOut,
    /// No ACK for a 2xx within 64·T1 (RFC 3261 §13.3.1.4).
    AckTimeout,
    /// No ACK for a non-2xx final within Timer H.
    AckMissing,
}

/// The most timers one transaction holds armed at once.
const ARMED_MAX: usize = 2;

/// The timers one transaction has armed, kept inline: no state of the four machines arms
/// more than two at once (A and B, E and F, G and H, the 2xx retransmission and L), and a
/// list on the heap was an allocation per transaction and two per timer fired. `fresh`
/// marks the slots armed since the endpoint last queued their deadlines.
#[derive(Debug, Default, Clone)]
pub(crate) struct Armed {
    slots: [Option<(TsxTimer, Instant)>; ARMED_MAX],
    fresh: u8,
}

impl Armed {
    pub(crate) fn set(&mut self, t: TsxTimer, at: Instant) {
        self.clear(t);
        let free = self.slots.iter().position(Option::is_none);
        debug_assert!(free.is_some(), "more than two transaction timers armed");
        // unreachable by the state machines; were it reached, the timer due last would
        // be dropped for the new one
        let i =
            free.unwrap_or_else(|| (0..self.slots.len()).max_by_key(|&i| self.slots[i].map(|(_, a)| a)).unwrap_or(0));
        self.slots[i] = Some((t, at));
        self.fresh |= 1 << i;
    }
    pub(crate) fn clear(&mut self, t: TsxTimer) {
        for (i, s) in self.slots.iter_mut().enumerate() {
            if s.is_some_and(|(k, _)| k == t) {
                *s = None;
                self.fresh &= !(1 << i);
            }
        }
    }
    pub(crate) fn clear_all(&mut self) {
        *self = Self::default();
    }
    /// The deadlines armed since the last call, each once.
    pub(crate) fn take_fresh(&mut self) -> impl Iterator<Item = Instant> + use<> {
        let fresh = std::mem::take(&mut self.fresh);
        let slots = self.slots;
        (0..slots.len()).filter(move |i| fresh & (1 << i) != 0).filter_map(move |i| slots[i].map(|(_, at)| at))
    }
    /// Timers due at `now`, removed, earliest first; at the same instant a timeout comes
    /// before a retransmission (sending once more as the transaction ends helps nobody).
    pub(crate) fn take_due(&mut self, now: Instant) -> impl Iterator<Item = TsxTimer> + use<> {
        let mut due = [None; ARMED_MAX];
        for (i, (slot, d)) in self.slots.iter_mut().zip(&mut due).enumerate() {
            if slot.is_some_and(|(_, at)| at <= now) {
                *d = slot.take().map(|(t, at)| (at, t.retransmits(), t));
                self.fresh &= !(1 << i);
            }
        }
        due.sort_unstable();
        due.into_iter().flatten().map(|(_, _, t)| t)
    }
    #[cfg(test)]
    pub(crate) fn next(&self) -> Option<Instant> {
        self.slots.iter().flatten().map(|(_, at)| *at).min()
    }
}

/// INVITE client transaction states (Figure 5 with RFC 6026 Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    /// Request sent, nothing heard.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A non-2xx final arrived and was ACKed.
    Completed,
    /// A 2xx arrived; retransmissions go to the TU (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// Non-INVITE client transaction states (Figure 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteClientState {
    /// Request sent.
    Trying,
    /// Provisional received.
    Proceeding,
    /// Final received.
    Completed,
    /// Done.
    Terminated,
}

/// A client transaction.
#[derive(Debug)]
pub(crate) struct ClientTx {
    pub(crate) peer: Peer,
    /// The request's bytes for retransmission; emptied when the final response arrives,
    /// since nothing is retransmitted after it and the transaction lingers (Timer D, K,
    /// M: up to 64·T1) only to absorb retransmitted responses.
    pub(crate) request: Vec<u8>,
    pub(crate) kind: ClientKind,
    pub(crate) timers: Armed,
    /// Interval for the next A/E retransmission.
    interval: Duration,
    /// ACK bytes for a non-2xx final (built by the endpoint from the request).
    pub(crate) ack: Option<Vec<u8>>,
    /// A CANCEL waiting for the first provisional (RFC 3261 §9.1).
    pub(crate) cancel_pending: bool,
    /// A CANCEL was sent: wait at most 64·T1 for the final response (§9.1).
    pub(crate) cancel_sent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientKind {
    Invite(InviteClientState),
    NonInvite(NonInviteClientState),
}

impl ClientTx {
    pub(crate) fn new(
        method: &Method,
        peer: Peer,
        request: Vec<u8>,
        now: Instant,
        cfg: &TimerConfig,
    ) -> (Self, Vec<Action>) {
        let mut timers = Armed::default();
        let kind = if *method == Method::Invite {
            if !peer.transport.is_reliable() {
                timers.set(TsxTimer::A, now + cfg.t1);
            }
            timers.set(TsxTimer::B, now + cfg.t1x64());
            ClientKind::Invite(InviteClientState::Calling)
        } else {
            if !peer.transport.is_reliable() {
                timers.set(TsxTimer::E, now + cfg.t1);
            }
            timers.set(TsxTimer::F, now + cfg.t1x64());
            ClientKind::NonInvite(NonInviteClientState::Trying)
        };
        let send = Action::Send(request.clone());
        (
            Self {
                peer,
                request,
                kind,
                timers,
                interval: cfg.t1,
                ack: None,
                cancel_pending: false,
                cancel_sent: false,
            },
            vec![send],
        )
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(
            self.kind,
            ClientKind::Invite(InviteClientState::Terminated) | ClientKind::NonInvite(NonInviteClientState::Terminated)
        )
    }

    /// The final response arrived: no timer of the waiting states runs on, and the
    /// request is never sent again.
    fn final_arrived(&mut self) {
        self.timers.clear_all();
        self.request = Vec::new();
    }

    /// A response matched this transaction. `ack` builds the ACK for a non-2xx final.
    pub(crate) fn on_response(
        &mut self,
        resp: Response,
        now: Instant,
        cfg: &TimerConfig,
        ack: impl FnOnce(&Response) -> Vec<u8>,
    ) -> Vec<Action> {
        let reliable = self.peer.transport.is_reliable();
        let status = resp.status;
        match self.kind {
            ClientKind::Invite(state) => match (state, status) {
                (InviteClientState::Calling | InviteClientState::Proceeding, 100..=199) => {
                    // §17.1.1.2: Timer B only runs in Calling; a ringing callee may ring on
                    // (unless a CANCEL was sent: §9.1 then bounds the wait by 64·T1).
                    self.timers.clear(TsxTimer::A);
                    if !self.cancel_sent {
                        self.timers.clear(TsxTimer::B);
                    }
                    self.kind = ClientKind::Invite(InviteClientState::Proceeding);
                    vec![Action::DeliverResponse(resp)]
                }
                (InviteClientState::Calling | InviteClientState::Proceeding, 200..=299) => {
                    self.final_arrived();
                    self.timers.set(TsxTimer::M, now + cfg.t1x64());
                    self.kind = ClientKind::Invite(InviteClientState::Accepted);
                    vec![Action::DeliverResponse(resp)]
                }
                (InviteClientState::Calling | InviteClientState::Proceeding, _) => {
                    self.final_arrived();
                    let bytes = ack(&resp);
                    self.ack = Some(bytes.clone());
                    if reliable {
                        self.kind = ClientKind::Invite(InviteClientState::Terminated);
                    } else {
                        self.timers.set(TsxTimer::D, now + Duration::from_secs(32).max(cfg.t1x64()));
                        self.kind = ClientKind::Invite(InviteClientState::Completed);
                    }
                    vec![Action::Send(bytes), Action::DeliverResponse(resp)]
                }
                // RFC 6026 §7.2: every 2xx retransmission goes to the TU, which re-sends ACK.
                (InviteClientState::Accepted, 200..=299) => vec![Action::DeliverResponse(resp)],
                // §17.1.1.2: a retransmitted final in Completed is re-ACKed, not delivered.
                (InviteClientState::Completed, 300..=699) => self.ack.clone().map(Action::Send).into_iter().collect(),
                _ => Vec::new(),
            },
            ClientKind::NonInvite(state) => match (state, status) {
                (NonInviteClientState::Trying | NonInviteClientState::Proceeding, 100..=199) => {
                    self.kind = ClientKind::NonInvite(NonInviteClientState::Proceeding);
                    vec![Action::DeliverResponse(resp)]
                }
                (NonInviteClientState::Trying | NonInviteClientState::Proceeding, _) => {
                    self.final_arrived();
                    if reliable {
                        self.kind = ClientKind::NonInvite(NonInviteClientState::Terminated);
                    } else {
                        self.timers.set(TsxTimer::K, now + cfg.t4);
                        self.kind = ClientKind::NonInvite(NonInviteClientState::Completed);
                    }
                    vec![Action::DeliverResponse(resp)]
                }
                _ => Vec::new(),
            },
        }
    }

    pub(crate) fn on_timer(&mut self, t: TsxTimer, now: Instant, cfg: &TimerConfig) -> Vec<Action> {
        match (self.kind, t) {
            (ClientKind::Invite(InviteClientState::Calling), TsxTimer::A) => {
                // §17.1.1.2: A doubles each time, without the T2 cap.
                self.interval *= 2;
                self.timers.set(TsxTimer::A, now + self.interval);
                vec![Action::Send(self.request.clone())]
            }
            (ClientKind::Invite(InviteClientState::Calling | InviteClientState::Proceeding), TsxTimer::B) => {
                self.timers.clear_all();
                self.kind = ClientKind::Invite(InviteClientState::Terminated);
                vec![Action::TimedOut]
            }
            (ClientKind::Invite(_), TsxTimer::D | TsxTimer::M) => {
                self.timers.clear_all();
                self.kind = ClientKind::Invite(InviteClientState::Terminated);
                Vec::new()
            }
            (
                ClientKind::NonInvite(s @ (NonInviteClientState::Trying | NonInviteClientState::Proceeding)),
                TsxTimer::E,
            ) => {
                // §17.1.2.2: E doubles up to T2; in Proceeding it stays at T2.
                self.interval =
                    if s == NonInviteClientState::Trying { (self.interval * 2).min(cfg.t2) } else { cfg.t2 };
                self.timers.set(TsxTimer::E, now + self.interval);
                vec![Action::Send(self.request.clone())]
            }
            (ClientKind::NonInvite(NonInviteClientState::Trying | NonInviteClientState::Proceeding), TsxTimer::F) => {
                self.timers.clear_all();
                self.kind = ClientKind::NonInvite(NonInviteClientState::Terminated);
                vec![Action::TimedOut]
            }
            (ClientKind::NonInvite(NonInviteClientState::Completed), TsxTimer::K) => {
                self.kind = ClientKind::NonInvite(NonInviteClientState::Terminated);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A transport error is treated like a timeout (§17.1.4).
    pub(crate) fn on_transport_error(&mut self) -> Vec<Action> {
        if self.is_terminated() {
            return Vec::new();
        }
        self.timers.clear_all();
        self.kind = match self.kind {
            ClientKind::Invite(_) => ClientKind::Invite(InviteClientState::Terminated),
            ClientKind::NonInvite(_) => ClientKind::NonInvite(NonInviteClientState::Terminated),
        };
        vec![Action::TimedOut]
    }

    /// A CANCEL for this INVITE went out: bound the wait for its final (§9.1).
    pub(crate) fn on_cancel_sent(&mut self, now: Instant, cfg: &TimerConfig) {
        if matches!(self.kind, ClientKind::Invite(InviteClientState::Calling | InviteClientState::Proceeding)) {
            self.cancel_sent = true;
            self.timers.set(TsxTimer::B, now + cfg.t1x64());
        }
    }

    /// Still waiting for a final response.
    pub(crate) fn awaits_final(&self) -> bool {
        matches!(
            self.kind,
            ClientKind::Invite(InviteClientState::Calling | InviteClientState::Proceeding)
                | ClientKind::NonInvite(NonInviteClientState::Trying | NonInviteClientState::Proceeding)
        )
    }

    pub(crate) fn got_provisional(&self) -> bool {
        matches!(self.kind, ClientKind::Invite(InviteClientState::Proceeding))
    }
}

/// INVITE server transaction states (Figure 7 with RFC 6026 Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    /// Waiting for the TU's final response.
    Proceeding,
    /// Non-2xx final sent, waiting for ACK.
    Completed,
    /// ACK received, absorbing ACK retransmits.
    Confirmed,
    /// 2xx sent, absorbing INVITE retransmits, retransmitting the 2xx until ACK.
    Accepted,
    /// Done.
    Terminated,
}

/// Non-INVITE server transaction states (Figure 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteServerState {
    /// Waiting for the TU.
    Trying,
    /// Provisional sent.
    Proceeding,
    /// Final sent, absorbing retransmits.
    Completed,
    /// Done.
    Terminated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerKind {
    Invite(InviteServerState),
    NonInvite(NonInviteServerState),
}

/// A server transaction.
#[derive(Debug)]
pub(crate) struct ServerTx {
    pub(crate) reply_to: Peer,
    pub(crate) kind: ServerKind,
    /// The last response, re-sent for a retransmitted request; for an INVITE dropped
    /// once the ACK arrives (nothing is re-sent after it; RFC 6026 §7.1 absorbs later
    /// INVITE retransmissions in Accepted).
    pub(crate) last_response: Option<Vec<u8>>,
    pub(crate) timers: Armed,
    interval: Duration,
    /// Dialog identity of a 2xx, used to match the ACK (Call-ID, CSeq number).
    pub(crate) ack_key: Option<Box<(String, u32)>>,
}

impl ServerTx {
    pub(crate) fn new(method: &Method, reply_to: Peer, cfg: &TimerConfig) -> Self {
        Self {
            reply_to,
            kind: if *method == Method::Invite {
                ServerKind::Invite(InviteServerState::Proceeding)
            } else {
                ServerKind::NonInvite(NonInviteServerState::Trying)
            },
            last_response: None,
            timers: Armed::default(),
            interval: cfg.t1,
            ack_key: None,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        matches!(
            self.kind,
            ServerKind::Invite(InviteServerState::Terminated) | ServerKind::NonInvite(NonInviteServerState::Terminated)
        )
    }

    /// A non-INVITE transaction that sent its final response over an unreliable
    /// transport and now only waits out Timer J, re-sending that response.
    pub(crate) fn is_completed_non_invite(&self) -> bool {
        matches!(self.kind, ServerKind::NonInvite(NonInviteServerState::Completed))
    }

    /// True while the TU may still send a final response.
    pub(crate) fn awaits_final(&self) -> bool {
        matches!(
            self.kind,
            ServerKind::Invite(InviteServerState::Proceeding)
                | ServerKind::NonInvite(NonInviteServerState::Trying | NonInviteServerState::Proceeding)
        )
    }

    /// A retransmission of the request arrived.
    pub(crate) fn on_request_retransmit(&mut self) -> Vec<Action> {
        match self.kind {
            ServerKind::Invite(InviteServerState::Proceeding | InviteServerState::Completed)
            | ServerKind::NonInvite(NonInviteServerState::Proceeding | NonInviteServerState::Completed) => {
                self.last_response.clone().map(Action::Send).into_iter().collect()
            }
            // RFC 6026 §7.1: INVITE retransmits in Accepted are absorbed; the TU's 2xx
            // retransmission covers them.
            _ => Vec::new(),
        }
    }

    /// The TU sends a response. Returns `None` when the state does not allow it.
    pub(crate) fn on_tu_response(
        &mut self,
        status: u16,
        bytes: Vec<u8>,
        now: Instant,
        cfg: &TimerConfig,
    ) -> Option<Vec<Action>> {
        let reliable = self.reply_to.transport.is_reliable();
        match self.kind {
            ServerKind::Invite(InviteServerState::Proceeding) => {
                self.last_response = Some(bytes.clone());
                match status {
                    100..=199 => {}
                    200..=299 => {
                        self.kind = ServerKind::Invite(InviteServerState::Accepted);
                        self.timers.set(TsxTimer::L, now + cfg.t1x64());
                        if !reliable {
                            self.timers.set(TsxTimer::Retransmit2xx, now + cfg.t1);
                        }
                    }
                    _ => {
                        self.kind = ServerKind::Invite(InviteServerState::Completed);
                        if !reliable {
                            self.timers.set(TsxTimer::G, now + cfg.t1);
                        }
                        self.timers.set(TsxTimer::H, now + cfg.t1x64());
                    }
                }
                Some(vec![Action::Send(bytes)])
            }
            ServerKind::NonInvite(NonInviteServerState::Trying | NonInviteServerState::Proceeding) => {
                self.last_response = Some(bytes.clone());
                if status < 200 {
                    self.kind = ServerKind::NonInvite(NonInviteServerState::Proceeding);
                } else if reliable {
                    self.kind = ServerKind::NonInvite(NonInviteServerState::Terminated);
                } else {
                    self.kind = ServerKind::NonInvite(NonInviteServerState::Completed);
                    self.timers.set(TsxTimer::J, now + cfg.t1x64());
                }
                Some(vec![Action::Send(bytes)])
            }
            _ => None,
        }
    }

    /// An ACK matched (non-2xx: same branch; 2xx: same Call-ID and CSeq).
    pub(crate) fn on_ack(&mut self, now: Instant, cfg: &TimerConfig) {
        match self.kind {
            ServerKind::Invite(InviteServerState::Completed) => {
                self.timers.clear_all();
                self.last_response = None;
                if self.reply_to.transport.is_reliable() {
                    self.kind = ServerKind::Invite(InviteServerState::Terminated);
                } else {
                    self.kind = ServerKind::Invite(InviteServerState::Confirmed);
                    self.timers.set(TsxTimer::I, now + cfg.t4);
                }
            }
            ServerKind::Invite(InviteServerState::Accepted) => {
                // stop retransmitting the 2xx; Timer L keeps absorbing INVITE retransmits
                self.timers.clear(TsxTimer::Retransmit2xx);
                self.ack_key = None;
                self.last_response = None;
            }
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, t: TsxTimer, now: Instant, cfg: &TimerConfig) -> Vec<Action> {
        match (self.kind, t) {
            (ServerKind::Invite(InviteServerState::Completed), TsxTimer::G) => {
                self.interval = (self.interval * 2).min(cfg.t2);
                self.timers.set(TsxTimer::G, now + self.interval);
                self.last_response.clone().map(Action::Send).into_iter().collect()
            }
            (ServerKind::Invite(InviteServerState::Completed), TsxTimer::H) => {
                self.timers.clear_all();
                self.kind = ServerKind::Invite(InviteServerState::Terminated);
                vec![Action::AckMissing]
            }
            (ServerKind::Invite(InviteServerState::Confirmed), TsxTimer::I) => {
                self.kind = ServerKind::Invite(InviteServerState::Terminated);
                Vec::new()
            }
            (ServerKind::Invite(InviteServerState::Accepted), TsxTimer::Retransmit2xx) => {
                // §13.3.1.4: double up to T2
                self.interval = (self.interval * 2).min(cfg.t2);
                self.timers.set(TsxTimer::Retransmit2xx, now + self.interval);
                self.last_response.clone().map(Action::Send).into_iter().collect()
            }
            (ServerKind::Invite(InviteServerState::Accepted), TsxTimer::L) => {
                let unacked = self.ack_key.is_some();
                self.timers.clear_all();
                self.kind = ServerKind::Invite(InviteServerState::Terminated);
                if unacked { vec![Action::AckTimeout] } else { Vec::new() }
            }
            (ServerKind::NonInvite(NonInviteServerState::Completed), TsxTimer::J) => {
                self.kind = ServerKind::NonInvite(NonInviteServerState::Terminated);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_timers_fire_in_order_timeouts_first_on_a_tie_and_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut armed = Armed::default();
        armed.set(TsxTimer::B, t0 + s(32));
        armed.set(TsxTimer::A, t0 + s(1));
        armed.set(TsxTimer::A, t0 + s(32)); // moved: one A, not two
        assert_eq!(armed.next(), Some(t0 + s(32)));
        assert_eq!(armed.take_due(t0 + s(31)).count(), 0);
        assert_eq!(armed.take_due(t0 + s(32)).collect::<Vec<_>>(), vec![TsxTimer::B, TsxTimer::A]);
        assert_eq!(armed.next(), None, "fired timers are gone");
        armed.set(TsxTimer::G, t0 + s(2));
        armed.set(TsxTimer::H, t0 + s(1));
        armed.clear(TsxTimer::H);
        assert_eq!(armed.take_due(t0 + s(5)).collect::<Vec<_>>(), vec![TsxTimer::G]);
        armed.set(TsxTimer::J, t0 + s(3));
        armed.clear_all();
        assert_eq!(armed.next(), None);
    }
}
