//! A real softphone for the tests: baresip (Debian's package) driven through its
//! `ctrl_tcp` module, with a tone file as microphone and no sound card.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Svar, free_port};

pub struct Phone {
    child: Child,
    ctrl: TcpStream,
    pub events: Vec<String>,
    buf: Vec<u8>,
    /// The `cons` module's UDP port: each datagram is a key press.
    cons: u16,
}

fn write_tone(path: &Path) {
    // 5 s of a 440 Hz tone, 8 kHz mono PCM16 WAV (baresip's aufile source)
    let samples: Vec<i16> = (0..40_000)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 8000.0).sin()) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        w.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, w).expect("wav");
}

impl Phone {
    pub fn start(svar: &Svar, user: &str, password: &str) -> Self {
        let dir = svar.dir.join(format!("baresip-{user}"));
        std::fs::create_dir_all(&dir).expect("dir");
        write_tone(&dir.join("tone.wav"));
        // baresip binds port+1 as well: keep two apart
        let sip = free_port();
        let ctrl = free_port();
        let cons = free_port();
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{sip}\naudio_player aubridge,{user}\naudio_source aufile,{tone}\naudio_alert aubridge,{user}a\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\n\
                 module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n\
                 module cons.so\ncons_listen 127.0.0.1:{cons}\n",
                tone = dir.join("tone.wav").display()
            ),
        )
        .expect("config");
        std::fs::write(
            dir.join("accounts"),
            format!("<sip:{user}@egeskov.example>;auth_pass={password};outbound=\"sip:127.0.0.1:{}\";regint=600;answermode=auto\n", svar.sip),
        )
        .expect("accounts");
        let log = std::fs::File::create(dir.join("baresip.log")).expect("log");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("baresip");
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", ctrl)) {
                break s;
            }
            assert!(Instant::now() < deadline, "baresip control port did not open");
            std::thread::sleep(Duration::from_millis(50));
        };
        ctrl.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        Self { child, ctrl, events: Vec::new(), buf: Vec::new(), cons }
    }

    /// Press keys in the call: baresip 1.0 has no DTMF command on `ctrl_tcp`, but its
    /// `cons` module takes each UDP datagram as a key, sent as RFC 4733 events.
    pub fn press(&self, keys: &str) {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        for k in keys.chars() {
            udp.send_to(k.to_string().as_bytes(), ("127.0.0.1", self.cons)).expect("key");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn command(&mut self, cmd: &str, params: &str) {
        let json = format!(r#"{{"command":"{cmd}","params":"{params}","token":"t"}}"#);
        write!(self.ctrl, "{}:{json},", json.len()).expect("send");
    }

    /// Read netstrings until one contains `needle` or the time runs out.
    pub fn wait_for(&mut self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.events.iter().any(|e| e.contains(needle)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            let mut chunk = [0u8; 4096];
            if let Ok(n) = self.ctrl.read(&mut chunk) {
                self.buf.extend_from_slice(&chunk[..n]);
            }
            // netstrings: len:payload,
            while let Some(colon) = self.buf.iter().position(|&c| c == b':') {
                let Ok(len) = std::str::from_utf8(&self.buf[..colon]).unwrap_or("x").parse::<usize>() else {
                    self.buf.clear();
                    break;
                };
                if self.buf.len() < colon + 1 + len + 1 {
                    break;
                }
                let payload = String::from_utf8_lossy(&self.buf[colon + 1..colon + 1 + len]).into_owned();
                self.buf.drain(..colon + 1 + len + 1);
                self.events.push(payload);
            }
        }
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
