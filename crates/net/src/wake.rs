//! How the rest of the server reaches the SIP loop, which sleeps in a blocking `recvfrom`
//! on its UDP socket and not in an async runtime: channels whose senders ring a
//! [`Doorbell`] after each message. The bell is a one-byte datagram to the SIP socket from
//! a socket of the bell's own, so the loop waits in one system call for both; it reads
//! its channels only when the bell rang, so a SIP datagram costs no channel polling.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::error;

use crate::sip_loop::Control;

/// The SIP loop's doorbell. Cloned into every sender that must wake it.
#[derive(Debug, Clone)]
pub struct Doorbell {
    bell: Arc<UdpSocket>,
    /// The bell socket's own address: what the loop recognises a ring by.
    from: SocketAddr,
    /// The SIP socket.
    target: SocketAddr,
}

impl Doorbell {
    /// A bell for the loop whose UDP socket is bound to `sip` (an unspecified address
    /// is reached on the loopback of its family).
    ///
    /// # Errors
    /// The bell's socket could not be bound.
    pub fn new(sip: SocketAddr) -> std::io::Result<Self> {
        let ip = match sip.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let target = SocketAddr::new(ip, sip.port());
        let bell = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        // a full send buffer means the loop has rings enough to read: never block a sender
        bell.set_nonblocking(true)?;
        let from = bell.local_addr()?;
        Ok(Self { bell: Arc::new(bell), from, target })
    }

    /// Wake the loop (it reads every channel when the ring arrives).
    pub fn ring(&self) {
        match self.bell.send_to(&[0], self.target) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => error!(error = %e, "cannot wake the SIP loop"),
        }
    }

    /// Whether a datagram from `from` is a ring. A forged one costs the loop only a look
    /// at its channels.
    pub(crate) fn rang(&self, from: SocketAddr) -> bool {
        from == self.from
    }
}

/// An unbounded sender that rings the loop's doorbell after each message.
#[derive(Debug)]
pub struct Notifying<T> {
    tx: mpsc::UnboundedSender<T>,
    bell: Doorbell,
}

impl<T> Clone for Notifying<T> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), bell: self.bell.clone() }
    }
}

impl<T> Notifying<T> {
    /// Send and wake the loop.
    ///
    /// # Errors
    /// The loop is gone; the message comes back.
    pub fn send(&self, value: T) -> Result<(), T> {
        self.tx.send(value).map_err(|e| e.0)?;
        self.bell.ring();
        Ok(())
    }
}

/// A channel to the loop that rings `bell`.
pub fn channel<T>(bell: &Doorbell) -> (Notifying<T>, mpsc::UnboundedReceiver<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Notifying { tx, bell: bell.clone() }, rx)
}

/// The rest of the server's handle on the SIP loop: numbers and shutdown. When the last
/// one is dropped the loop drains and ends.
#[derive(Debug, Clone)]
pub struct ControlSender {
    tx: mpsc::Sender<Control>,
    bell: Doorbell,
}

impl ControlSender {
    /// Send, waiting for room, and wake the loop.
    ///
    /// # Errors
    /// The loop is gone; the request comes back.
    pub async fn send(&self, c: Control) -> Result<(), Control> {
        self.tx.send(c).await.map_err(|e| e.0)?;
        self.bell.ring();
        Ok(())
    }
}

impl Drop for ControlSender {
    /// The loop learns that a sender is gone only by looking: ring so it looks (it ends
    /// when every sender is gone).
    fn drop(&mut self) {
        self.bell.ring();
    }
}

/// The control channel: room for `capacity` requests.
#[must_use]
pub fn control_channel(bell: &Doorbell, capacity: usize) -> (ControlSender, mpsc::Receiver<Control>) {
    let (tx, rx) = mpsc::channel(capacity);
    (ControlSender { tx, bell: bell.clone() }, rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A stand-in for the SIP socket, and a bell ringing it.
    fn loop_socket() -> (UdpSocket, Doorbell) {
        let sip = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sip.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let bell = Doorbell::new(sip.local_addr().expect("addr")).expect("bell");
        (sip, bell)
    }

    fn rings(sip: &UdpSocket, bell: &Doorbell) -> usize {
        let mut buf = [0u8; 16];
        let mut n = 0;
        while let Ok((_, from)) = sip.recv_from(&mut buf) {
            assert!(bell.rang(from), "only the bell sends here");
            n += 1;
        }
        n
    }

    #[test]
    fn a_send_rings_the_loop_once() {
        let (sip, bell) = loop_socket();
        let (tx, mut rx) = channel::<u32>(&bell);
        assert_eq!(rings(&sip, &bell), 0);
        tx.send(7).expect("send");
        assert_eq!(rings(&sip, &bell), 1);
        assert_eq!(rx.try_recv().ok(), Some(7));
    }

    #[test]
    fn a_send_to_a_gone_loop_returns_the_message_and_rings_nobody() {
        let (sip, bell) = loop_socket();
        let (tx, rx) = channel::<u32>(&bell);
        drop(rx);
        assert_eq!(tx.send(5), Err(5));
        assert_eq!(rings(&sip, &bell), 0);
    }

    #[test]
    fn dropping_a_control_sender_rings() {
        let (sip, bell) = loop_socket();
        let (tx, mut rx) = control_channel(&bell, 1);
        drop(tx);
        assert_eq!(rings(&sip, &bell), 1);
        assert!(matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }

    #[test]
    fn an_unspecified_sip_address_is_rung_on_the_loopback() {
        let sip = UdpSocket::bind("0.0.0.0:0").expect("bind");
        sip.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let bell = Doorbell::new(sip.local_addr().expect("addr")).expect("bell");
        bell.ring();
        assert_eq!(rings(&sip, &bell), 1);
    }

    #[test]
    fn a_datagram_from_elsewhere_is_no_ring() {
        let (sip, bell) = loop_socket();
        let other = UdpSocket::bind("127.0.0.1:0").expect("bind");
        other.send_to(b"x", sip.local_addr().expect("addr")).expect("send");
        let mut buf = [0u8; 4];
        let (_, from) = sip.recv_from(&mut buf).expect("datagram");
        assert!(!bell.rang(from));
    }
}
