//! One call through the B2BUA: the caller's leg (we are its UAS), the callee forks (we
//! are their UAC) and, once answered, the callee's leg.

use std::time::Instant;

use bytes::Bytes;
use sip::dialog::Dialog;
use sip::{ClientTxId, Peer, ServerTxId};
use sip_msg::{Core, Request};

use crate::record::CallRecord;

/// Which side of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The caller's leg.
    A,
    /// The callee's leg.
    B,
}

impl Side {
    /// The other side.
    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }
}

/// An established leg.
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) dialog: Dialog,
    /// CSeq of the last INVITE we sent on this leg (for its ACK).
    pub(crate) invite_seq: u32,
    /// We have a re-INVITE outstanding on this leg (glare: answer theirs with 491).
    pub(crate) reinvite_out: bool,
    /// They have a re-INVITE outstanding with us.
    pub(crate) reinvite_in: bool,
    /// Their 2xx to our re-INVITE without SDP carried an offer: its ACK waits for the
    /// other side's ACK, which carries the answer (RFC 3264 §5, RFC 3261 §13.2.2.4).
    pub(crate) ack_waits_for_answer: bool,
}

impl Leg {
    /// A leg just established: `invite_seq` is the CSeq of our INVITE on it (0 on the
    /// caller's leg, where we sent none), nothing outstanding.
    pub(crate) fn new(dialog: Dialog, invite_seq: u32) -> Self {
        Self { dialog, invite_seq, reinvite_out: false, reinvite_in: false, ack_waits_for_answer: false }
    }
}

/// One INVITE we sent towards a callee contact.
#[derive(Debug)]
pub(crate) struct Fork {
    pub(crate) tx: ClientTxId,
    pub(crate) request: Request,
    pub(crate) peer: Peer,
    pub(crate) status: Option<u16>,
    pub(crate) auth_tried: bool,
    /// Trunk name when the fork goes to a provider.
    pub(crate) trunk: Option<String>,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    /// Forks sent, no answer yet.
    Calling,
    /// One fork answered.
    Answered,
    /// svar answered the caller itself (the IVR); forks ring only when it puts the
    /// caller through.
    Ivr,
}

/// A call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) state: CallState,
    pub(crate) a_tx: ServerTxId,
    pub(crate) a_invite: Request,
    pub(crate) a_core: Core,
    pub(crate) a_source: Peer,
    pub(crate) a_tag: String,
    pub(crate) a: Option<Leg>,
    pub(crate) b: Option<Leg>,
    pub(crate) b_call_id: String,
    pub(crate) b_tag: String,
    pub(crate) forks: Vec<Fork>,
    /// The callee's 2xx waits for the caller's ACK to carry the answer (late offer).
    pub(crate) pending_b_ack: Option<Bytes>,
    pub(crate) late_offer: bool,
    pub(crate) ringing: bool,
    pub(crate) ring_deadline: Option<Instant>,
    pub(crate) record: CallRecord,
    /// svar's part in the call's media, when anchored.
    pub(crate) media: Option<crate::pbx::anchor::Anchor>,
    /// The caller's walk through the IVR, while svar holds the call.
    pub(crate) ivr: Option<crate::pbx::ivr_call::IvrCall>,
    /// The conversation is being recorded; the caller consented at this Unix ms.
    pub(crate) conversation_consent: Option<i64>,
    /// When svar answered an IVR caller: flow lines written after the IVR handed the call
    /// to an employee count from here.
    pub(crate) flow_started: Option<Instant>,
}

impl Call {
    pub(crate) fn leg_mut(&mut self, side: Side) -> Option<&mut Leg> {
        match side {
            Side::A => self.a.as_mut(),
            Side::B => self.b.as_mut(),
        }
    }
}
