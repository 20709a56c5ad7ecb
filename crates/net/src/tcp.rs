//! SIP over TCP (RFC 3261 §18.3): one task per connection frames messages by
//! Content-Length and answers RFC 5626 CRLFCRLF keep-alives with CRLF.

use std::net::SocketAddr;
use std::time::Duration;

use sip_msg::{Message, StreamFrame, parse_stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::wake::Notifying;

/// What a connection task tells the SIP loop.
#[derive(Debug)]
pub(crate) enum TcpEvent {
    /// The connection is up; send through this channel.
    Up(SocketAddr, mpsc::Sender<Vec<u8>>),
    /// A framed message.
    Message(SocketAddr, Message),
    /// The connection is gone.
    Closed(SocketAddr),
}

/// Connections idle this long are closed (RFC 5626 keep-alives count as activity).
pub(crate) const IDLE: Duration = Duration::from_secs(600);

/// Accept connections for as long as the SIP loop runs (it aborts this task when it
/// ends); each gets a task of its own, announced to the loop with [`TcpEvent::Up`].
pub(crate) async fn accept(listener: TcpListener, events: Notifying<TcpEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                spawn(stream, peer, events.clone());
            }
            Err(e) => {
                // out of file descriptors, most likely: let some connection close first
                warn!(error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Run a connection on the current runtime.
pub(crate) fn spawn(stream: TcpStream, peer: SocketAddr, events: Notifying<TcpEvent>) -> mpsc::Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    let _ = stream.set_nodelay(true);
    let _ = events.send(TcpEvent::Up(peer, tx.clone()));
    tokio::spawn(run(stream, peer, rx, events));
    tx
}

/// Open a connection on `runtime` for a message to a peer we have none with.
pub(crate) fn connect(
    runtime: &tokio::runtime::Handle,
    peer: SocketAddr,
    events: Notifying<TcpEvent>,
) -> mpsc::Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    let tx2 = tx.clone();
    runtime.spawn(async move {
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(peer)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                let _ = events.send(TcpEvent::Up(peer, tx2));
                run(stream, peer, rx, events).await;
            }
            _ => {
                info!(%peer, "TCP connect failed");
                let _ = events.send(TcpEvent::Closed(peer));
            }
        }
    });
    tx
}

async fn run(
    mut stream: TcpStream,
    peer: SocketAddr,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    events: Notifying<TcpEvent>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    loop {
        tokio::select! {
            read = tokio::time::timeout(IDLE, stream.read(&mut chunk)) => {
                let n = match read {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => n,
                    Err(_) => { debug!(%peer, "idle TCP connection closed"); break; }
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match parse_stream(&buf) {
                        Ok(StreamFrame::Incomplete) => break,
                        Ok(StreamFrame::KeepAlive { consumed }) => {
                            buf.drain(..consumed);
                            // RFC 5626 §4.4.1: answer a double CRLF ping with a CRLF pong
                            if stream.write_all(b"\r\n").await.is_err() { break; }
                        }
                        Ok(StreamFrame::Message { message, consumed }) => {
                            buf.drain(..consumed);
                            let _ = events.send(TcpEvent::Message(peer, *message));
                        }
                        Err(e) => {
                            // framing is lost on a stream: close (RFC 3261 §18.3)
                            info!(%peer, error = %e, "unparsable message on TCP; closing connection");
                            let _ = events.send(TcpEvent::Closed(peer));
                            return;
                        }
                    }
                }
            }
            out = outgoing.recv() => {
                match out {
                    Some(data) => if stream.write_all(&data).await.is_err() { break; },
                    None => break,
                }
            }
        }
    }
    let _ = events.send(TcpEvent::Closed(peer));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wake::{self, Doorbell};

    async fn pair() -> (TcpStream, SocketAddr, mpsc::UnboundedReceiver<TcpEvent>, mpsc::Sender<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, peer) = listener.accept().await.expect("accept");
        let (tx, mut rx) = wake::channel(&Doorbell::new("127.0.0.1:9".parse().expect("addr")).expect("bell"));
        let sender = spawn(server, peer, tx);
        assert!(matches!(rx.recv().await, Some(TcpEvent::Up(p, _)) if p == peer));
        (client, peer, rx, sender)
    }

    #[tokio::test]
    async fn messages_are_framed_and_keepalives_answered() {
        let (mut client, _, mut rx, _sender) = pair().await;
        let msg =
            b"OPTIONS sip:svar SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\nContent-Length: 4\r\n\r\nbody";
        // the message arrives in two pieces, then a keep-alive
        client.write_all(&msg[..20]).await.expect("write");
        client.write_all(&msg[20..]).await.expect("write");
        client.write_all(b"\r\n\r\n").await.expect("ping");
        match rx.recv().await {
            Some(TcpEvent::Message(_, Message::Request(r))) => assert_eq!(&r.body[..], b"body"),
            other => panic!("{other:?}"),
        }
        let mut pong = [0u8; 2];
        client.read_exact(&mut pong).await.expect("pong");
        assert_eq!(&pong, b"\r\n");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_closed() {
        let (mut client, peer, mut rx, _sender) = pair().await;
        // nothing for IDLE: the paused clock advances by itself, the connection closes
        assert!(matches!(rx.recv().await, Some(TcpEvent::Closed(p)) if p == peer));
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).await.expect("eof"), 0);
    }

    #[tokio::test]
    async fn garbage_closes_the_connection() {
        let (mut client, peer, mut rx, _sender) = pair().await;
        client.write_all(b"NOT SIP AT ALL\r\n\r\n").await.expect("write");
        assert!(matches!(rx.recv().await, Some(TcpEvent::Closed(p)) if p == peer));
    }
}
