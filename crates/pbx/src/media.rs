//! What call control tells the media driver, and what the media tells call control.
//!
//! Call control owns the port pool and every decision (which ports a call gets, what a
//! leg hears, when the media timeout applies); the driver in `net` only binds the ports
//! and runs one [`media::relay::Bridge`] per call. So the SDP svar writes can name its
//! ports before a single socket exists, and a port goes back to the pool the moment the
//! call ends, in the same step that ends it.

use std::net::IpAddr;
use std::time::Duration;

use media::record::{Ended, RecordLimits};
use media::relay::{Feed, Leg, LegConfig, LegStream};
use rtp::telephone_event::KeyEvent;
use sdp::Codec;

/// Anchored media settings (`[media]`).
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// The address written into SDP and bound for RTP.
    pub ip: IpAddr,
    /// First RTP port (even; RTCP on the odd port above each).
    pub first_port: u16,
    /// Last RTP port.
    pub last_port: u16,
    /// No RTP from an answered leg for this long ends the call.
    pub timeout: Duration,
    /// Codecs svar speaks, in its order of preference (its own offers use it).
    pub codecs: Vec<Codec>,
    /// telephone-event payload type in svar's own offers.
    pub dtmf_payload_type: u8,
    /// Played to the other party while one side holds the call (`None`: they hear
    /// silence).
    pub music_on_hold: Option<media::prompt::Prompt>,
}

/// A command for the media driver.
#[derive(Debug)]
pub enum MediaOp {
    /// Bind the two ports (leg A's, leg B's) and start the call's media.
    Open {
        /// The call.
        call: u64,
        /// svar's RTP port towards leg A and towards leg B.
        ports: (u16, u16),
        /// Leg A as known now.
        a: LegConfig,
        /// Leg B as known now.
        b: LegConfig,
    },
    /// A leg's stream was (re)negotiated.
    Stream {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
        /// What was agreed.
        stream: LegStream,
    },
    /// Change what a leg hears.
    Feed {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
        /// What it hears now.
        feed: Feed,
    },
    /// Listen for in-band keys on a leg without telephone-event.
    ListenInband {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
    },
    /// Record the whole conversation, both legs (only after the caller's consent).
    RecordConversation {
        /// The call.
        call: u64,
    },
    /// The caller withdrew consent: drop the conversation recorded so far.
    DiscardConversation {
        /// The call.
        call: u64,
    },
    /// Record a message from a leg.
    Record {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
        /// Length and silence limits.
        limits: RecordLimits,
    },
    /// The call is over: unbind its ports (the pool already has them back).
    Close {
        /// The call.
        call: u64,
    },
}

/// What a call's media reports to call control.
#[derive(Debug)]
pub enum MediaEvent {
    /// A key on a leg (RFC 4733 or in-band).
    Key {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
        /// The key event.
        event: KeyEvent,
    },
    /// An answered leg sent nothing for the media timeout.
    Timeout {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
    },
    /// A leg finished hearing what it was played.
    PlaybackDone {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
    },
    /// A recorded message is complete.
    Recorded {
        /// The call.
        call: u64,
        /// The leg.
        leg: Leg,
        /// Why it ended.
        ended: Ended,
        /// Its length.
        length: Duration,
        /// The WAV bytes.
        wav: Vec<u8>,
    },
    /// The recording of a conversation is complete (the call ended).
    ConversationRecorded {
        /// The call.
        call: u64,
        /// Its length.
        length: Duration,
        /// The WAV bytes (stereo: the caller left, the employee right).
        wav: Vec<u8>,
    },
    /// The ports could not be bound: the call cannot have media.
    Failed {
        /// The call.
        call: u64,
        /// Why.
        error: String,
    },
}
