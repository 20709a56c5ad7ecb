//! SIP over TCP (RFC 3261 §18.3): one task per connection frames messages by
//! Content-Length and answers RFC 5626 CRLFCRLF keep-alives with CRLF.

use std::net::SocketAddr;
use std::time::Duration;

use sip_msg::{Message, StreamFrame, parse_stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::{debug, info};

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

pub(crate) fn spawn(
    stream: TcpStream,
    peer: SocketAddr,
    events: mpsc::UnboundedSender<TcpEvent>,
) -> mpsc::Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    let _ = stream.set_nodelay(true);
    let _ = events.send(TcpEvent::Up(peer, tx.clone()));
    tokio::spawn(run(stream, peer, rx, events));
    tx
}

pub(crate) fn connect(peer: SocketAddr, events: mpsc::UnboundedSender<TcpEvent>) -> mpsc::Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    let tx2 = tx.clone();
    tokio::spawn(async move {
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
    events: mpsc::UnboundedSender<TcpEvent>,
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
