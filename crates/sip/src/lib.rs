//! The sans-IO SIP engine of svar.
//!
//! What it does: client and server transactions (RFC 3261 §17 with RFC 6026) with timers
//! as data, the UAS core's request checks (§8.2), dialogs (§12), digest authentication
//! (RFC 7616/8760) and the registrar (§10). What it does not do: sockets, clocks, threads
//! or storage. Time comes in as `now`, randomness as a seed, and everything that must
//! leave the engine comes out of `poll_output` (see [`endpoint`] for the drive loop).

pub mod checks;
mod completed;
pub mod deadlines;
pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod fastmap;
mod fifo;
pub mod registrar;
pub mod rng;
pub mod timers;
mod transaction;
pub mod transport;
mod txindex;
mod txkey;

pub use endpoint::{ClientTxId, Endpoint, EndpointConfig, EngineError, Event, Input, Output, ServerTxId};
pub use transaction::{InviteClientState, InviteServerState, NonInviteClientState, NonInviteServerState};
pub use transport::{Peer, Transport};
