//! How the rest of the server reaches the SIP loop, which sleeps in `epoll_wait` and not in
//! an async runtime: channels whose senders ring a [`Doorbell`] (an eventfd in the loop's
//! epoll set) after each message. The loop reads its channels only when the bell rang, so
//! a datagram costs no channel polling at all.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::event::{EventfdFlags, eventfd};
use tokio::sync::mpsc;
use tracing::error;

use crate::sip_loop::Control;

/// The SIP loop's eventfd. Cloned into every sender that must wake it.
#[derive(Debug, Clone)]
pub struct Doorbell(Arc<OwnedFd>);

impl Doorbell {
    /// A new eventfd.
    ///
    /// # Errors
    /// The kernel refused an eventfd.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self(Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?)))
    }

    /// Wake the loop (it reads every channel on its next round).
    pub fn ring(&self) {
        // EAGAIN only when the counter is near u64::MAX: the loop is woken either way
        if let Err(e) = rustix::io::write(&*self.0, &1u64.to_ne_bytes())
            && e != rustix::io::Errno::AGAIN
        {
            error!(error = %e, "cannot wake the SIP loop");
        }
    }

    /// Reset the counter, before the loop reads its channels: a message sent after this
    /// rings again and is seen next round.
    pub(crate) fn clear(&self) {
        let mut counter = [0u8; 8];
        let _ = rustix::io::read(&*self.0, &mut counter);
    }
}

impl AsFd for Doorbell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
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

    fn rung(bell: &Doorbell) -> bool {
        let mut counter = [0u8; 8];
        rustix::io::read(bell, &mut counter).is_ok()
    }

    #[test]
    fn a_send_rings_and_clear_resets() {
        let bell = Doorbell::new().expect("eventfd");
        let (tx, mut rx) = channel::<u32>(&bell);
        assert!(!rung(&bell));
        tx.send(7).expect("send");
        bell.clear();
        assert!(!rung(&bell), "clear reset the counter");
        assert_eq!(rx.try_recv().ok(), Some(7));
        tx.send(8).expect("send");
        assert!(rung(&bell));
    }

    #[test]
    fn a_send_to_a_gone_loop_returns_the_message() {
        let bell = Doorbell::new().expect("eventfd");
        let (tx, rx) = channel::<u32>(&bell);
        drop(rx);
        assert_eq!(tx.send(5), Err(5));
        assert!(!rung(&bell), "nobody to wake");
    }

    #[test]
    fn dropping_a_control_sender_rings() {
        let bell = Doorbell::new().expect("eventfd");
        let (tx, mut rx) = control_channel(&bell, 1);
        drop(tx);
        assert!(rung(&bell));
        assert!(matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }
}
