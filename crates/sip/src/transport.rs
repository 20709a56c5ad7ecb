//! Who a message came from or goes to. The driver owns sockets and connections; the engine
//! only names the transport and the remote address.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport (RFC 3261 §18; WebSocket RFC 7118). TLS and WS are named now so the
/// engine's decisions (reliability, Via tokens) are ready when their drivers arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP: unreliable, the engine retransmits.
    Udp,
    /// TCP: reliable stream.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl Transport {
    /// Reliable transports switch off retransmission timers (RFC 3261 §17).
    #[must_use]
    pub fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// The Via transport token.
    #[must_use]
    pub fn via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// Parse a Via or `transport=` token.
    #[must_use]
    pub fn from_token(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "UDP" => Self::Udp,
            "TCP" => Self::Tcp,
            "TLS" => Self::Tls,
            "WS" => Self::Ws,
            "WSS" => Self::Wss,
            _ => return None,
        })
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// A remote endpoint: transport and socket address. For stream transports the driver
/// reuses the connection it has to this address, or opens one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport.
    pub transport: Transport,
    /// Remote address.
    pub addr: SocketAddr,
}

impl Peer {
    /// A UDP peer.
    #[must_use]
    pub fn udp(addr: SocketAddr) -> Self {
        Self { transport: Transport::Udp, addr }
    }
}
