//! Media pieces of the anchored-media engine (issue 3), sans-IO:
//!
//! - [`ports`]: the RTP port pool (even RTP ports, RTCP on the next odd one), every port
//!   back on every call end;
//! - [`stream`]: one outgoing RTP stream per leg whose sequence numbers, timestamps and
//!   SSRC stay continuous while its source changes (prompt → bridged audio → music on
//!   hold), so phones never see a jump;
//! - [`tone`]: tones svar generates itself, starting with the Danish ringback.
//!
//! Sockets, pacing timers and SDP are the driver's and the SDP module's business.

pub mod ports;
pub mod prompt;
pub mod record;
pub mod relay;
pub mod rtcp;
pub mod stream;
pub mod tone;
