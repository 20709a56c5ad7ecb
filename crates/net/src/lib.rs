//! The thin async shell around svar's sans-IO engines.
//!
//! [`sip_loop::run`] owns the [`pbx::Pbx`] and its sockets: one task, one mutation at a
//! time, outputs drained after each input, a single sleep until the engine's next timer.
//! UDP datagrams are read in batches on that task (no thread hop per message); each TCP
//! connection has a reader task that frames messages and hands them over a channel.
//! [`writer::run`] takes records off the SIP path and writes them in batches.

pub mod media_loop;
mod media_thread;
pub mod sip_loop;
mod tcp;
pub mod writer;

pub use sip_loop::{Control, SipSockets, Snapshot};
