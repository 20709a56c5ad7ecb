//! rtpengine's control protocol ("ng"): a cookie, a space and a bencoded dictionary per
//! UDP datagram. `offer` gives the offerer's SDP and gets back the SDP for the answerer
//! (rtpengine's port facing it); `answer` does the same the other way; `delete` ends the
//! call.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A bencoded string.
fn bstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(s.as_bytes());
}

/// Encode a flat dictionary of strings (keys sorted, as bencode requires).
fn dict(pairs: &mut [(&str, String)]) -> Vec<u8> {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = vec![b'd'];
    for (k, v) in pairs.iter() {
        bstr(&mut out, k);
        bstr(&mut out, v);
    }
    out.push(b'e');
    out
}

/// The value of a string key in a bencoded reply (the reply is a flat dictionary for
/// what we ask).
fn lookup(reply: &[u8], key: &str) -> Option<String> {
    let needle = format!("{}:{key}", key.len());
    let at = reply.windows(needle.len()).position(|w| w == needle.as_bytes())? + needle.len();
    let rest = &reply[at..];
    let colon = rest.iter().position(|&c| c == b':')?;
    let len: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    let value = rest.get(colon + 1..colon + 1 + len)?;
    Some(String::from_utf8_lossy(value).into_owned())
}

/// The audio port an SDP names.
pub(crate) fn audio_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// An SDP offering PCMU from `port` on 127.0.0.1.
pub(crate) fn sdp(port: u16) -> String {
    format!(
        "v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
}

/// A client of one rtpengine.
pub(crate) struct Ng {
    socket: UdpSocket,
    server: SocketAddr,
    cookie: u64,
}

impl Ng {
    /// Talk to rtpengine at `server`.
    ///
    /// # Errors
    /// No socket.
    pub(crate) fn new(server: SocketAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Self { socket, server, cookie: 0 })
    }

    fn ask(&mut self, mut pairs: Vec<(&str, String)>) -> Result<Vec<u8>, String> {
        self.cookie += 1;
        let mut msg = format!("{} ", self.cookie).into_bytes();
        msg.extend(dict(&mut pairs));
        self.socket.send_to(&msg, self.server).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = self.socket.recv(&mut buf).map_err(|e| format!("rtpengine did not answer: {e}"))?;
            let reply = &buf[..n];
            let prefix = format!("{} ", self.cookie);
            if reply.starts_with(prefix.as_bytes()) {
                let body = reply[prefix.len()..].to_vec();
                if lookup(&body, "result").as_deref() != Some("ok") {
                    return Err(format!("rtpengine refused: {}", String::from_utf8_lossy(&body)));
                }
                return Ok(body);
            }
        }
    }

    /// Set up call `k` between A (at `a_port`) and B (at `b_port`): rtpengine's ports
    /// facing A and facing B.
    ///
    /// # Errors
    /// rtpengine refused or did not answer.
    pub(crate) fn call(&mut self, k: usize, a_port: u16, b_port: u16) -> Result<(u16, u16), String> {
        let call_id = format!("load-{k}");
        let offer = self.ask(vec![
            ("command", "offer".into()),
            ("call-id", call_id.clone()),
            ("from-tag", format!("a{k}")),
            ("sdp", sdp(a_port)),
        ])?;
        let to_b = lookup(&offer, "sdp").and_then(|s| audio_port(&s)).ok_or("offer reply without SDP")?;
        let answer = self.ask(vec![
            ("command", "answer".into()),
            ("call-id", call_id),
            ("from-tag", format!("a{k}")),
            ("to-tag", format!("b{k}")),
            ("sdp", sdp(b_port)),
        ])?;
        let to_a = lookup(&answer, "sdp").and_then(|s| audio_port(&s)).ok_or("answer reply without SDP")?;
        Ok((to_a, to_b))
    }

    /// End call `k`.
    ///
    /// # Errors
    /// rtpengine refused or did not answer.
    pub(crate) fn delete(&mut self, k: usize) -> Result<(), String> {
        self.ask(vec![("command", "delete".into()), ("call-id", format!("load-{k}")), ("from-tag", format!("a{k}"))])
            .map(|_| ())
    }
}
