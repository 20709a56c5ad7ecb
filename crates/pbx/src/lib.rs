//! Call control for svar: the B2BUA between registered phones and provider trunks, the
//! registrar front (digest, bindings), outbound routing with toll-fraud rules and call
//! records. Sans-IO like the engines below it: [`Pbx::handle_input`] takes the same
//! inputs as [`sip::Endpoint`] plus the wall clock, [`Pbx::poll_output`] yields datagrams
//! to send and records to persist, [`Pbx::poll_timeout`] says when to call again.
//!
//! Media is relayed as-is in this version: SDP passes between legs untouched, so RTP
//! flows phone to phone. Anchoring media through svar comes with the media engine.

mod call;
pub mod config;
pub mod numbers;
mod pbx;
pub mod record;

pub use call::Side;
pub use config::PbxConfig;
pub use pbx::{Pbx, PbxOutput, PbxStats, Persist};
