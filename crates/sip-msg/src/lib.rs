//! SIP message syntax for svar (RFC 3261 §7, §19, §20, §25; RFC 4475 robustness).
//!
//! What it does: parses datagrams and stream buffers into [`Message`]s, keeps every
//! header line as written (unknown headers print byte for byte), offers typed views of
//! the headers svar acts on ([`Via`], [`NameAddr`], [`CSeq`], [`Uri`]) and prints messages
//! back. What it does not do: transactions, dialogs, timers, sockets or clocks; those live
//! in the `sip` crate and its driver.
//!
//! ```
//! let raw = b"OPTIONS sip:svar.example SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
//! From: <sip:a@example>;tag=1\r\nTo: <sip:svar.example>\r\n\
//! Call-ID: x\r\nCSeq: 1 OPTIONS\r\nX-Unknown:  kept  as is\r\nContent-Length: 0\r\n\r\n";
//! let msg = sip_msg::parse_datagram(raw).unwrap().unwrap();
//! let sip_msg::Message::Request(req) = &msg else { panic!() };
//! assert_eq!(req.core().unwrap().cseq.seq, 1);
//! assert!(String::from_utf8(msg.to_bytes()).unwrap().contains("X-Unknown: kept  as is\r\n"));
//! ```

mod error;
mod headers;
mod message;
mod method;
mod name_addr;
mod parse;
mod pii;
pub mod text;
mod uri;
mod via;

pub use error::ParseError;
pub use headers::{CSeq, Contacts, Header, HeaderName, Headers, parse_delta_seconds};
pub use message::{Core, Message, Request, Response, default_reason};
pub use method::Method;
pub use name_addr::{AddrField, NameAddr, has_header_param};
pub use parse::{MAX_HEADERS, MAX_MESSAGE, StreamFrame, parse_datagram, parse_stream, salvage_headers};
pub use pii::{Pii, mask};
pub use text::Param;
pub use uri::{Host, Scheme, SipUri, TelUri, Uri};
pub use via::{BRANCH_MAGIC, Via, ViaField};
