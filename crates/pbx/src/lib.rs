//! Call control for svar: the B2BUA between registered phones and provider trunks, the
//! registrar front (digest, bindings), outbound routing with toll-fraud rules and call
//! records. Sans-IO like the engines below it: [`Pbx::handle_input`] takes the same
//! inputs as [`sip::Endpoint`] plus the wall clock, [`Pbx::poll_output`] yields datagrams
//! to send and records to persist, [`Pbx::poll_timeout`] says when to call again.
//!
//! Media is anchored when `PbxConfig::media` is set: every SDP crossing the B2BUA names
//! svar's ports, and [`PbxOutput::Media`] tells the driver what each call's media does
//! ([`media::MediaOp`]); without it SDP passes untouched and RTP flows phone to phone.

mod call;
pub mod config;
pub mod ivr_setup;
pub mod media;
pub mod numbers;
mod pbx;
pub mod record;

pub use call::Side;
pub use config::PbxConfig;
pub use ivr_setup::{IvrSetup, RecordedMessage};
pub use media::{MediaEvent, MediaOp, MediaSettings};
pub use pbx::{Pbx, PbxOutput, PbxStats, Persist};
