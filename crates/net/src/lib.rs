//! The thin async shell around svar's sans-IO engines.
//!
//! [`sip_loop::run`] owns the [`pbx::Pbx`] and its sockets on a thread of its own: one
//! mutation at a time, outputs drained after each input, one blocking `recvfrom` until the
//! next datagram, doorbell ring (a channel message) or engine timer. UDP datagrams are read where
//! they are handled (no thread hop per message); each TCP connection has a reader task on
//! the server's runtime that frames messages and hands them over a channel that wakes the
//! loop ([`wake`]).
//! [`writer::run`] takes records off the SIP path and writes them in batches.

pub mod media_loop;
mod media_thread;
pub mod sip_loop;
mod tcp;
pub mod wake;
pub mod writer;

pub use sip_loop::{Control, SipSockets, Snapshot, Wiring};
pub use wake::{ControlSender, Doorbell};
