//! Two real softphones (baresip, from Debian's package) register with svar, one calls the
//! other, the callee answers automatically, the caller hangs up; both phones see it, and
//! the call record says so.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Svar, free_port, require_tool};
use pbx::record::{Outcome, Party};

struct Phone {
    child: Child,
    ctrl: TcpStream,
    events: Vec<String>,
    buf: Vec<u8>,
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
    fn start(svar: &Svar, user: &str, password: &str) -> Self {
        let dir = svar.dir.join(format!("baresip-{user}"));
        std::fs::create_dir_all(&dir).expect("dir");
        write_tone(&dir.join("tone.wav"));
        // baresip binds port+1 as well: keep two apart
        let sip = free_port();
        let ctrl = free_port();
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{sip}\naudio_player aubridge,{user}\naudio_source aufile,{tone}\naudio_alert aubridge,{user}a\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\n\
                 module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n",
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
        Self { child, ctrl, events: Vec::new(), buf: Vec::new() }
    }

    fn command(&mut self, cmd: &str, params: &str) {
        let json = format!(r#"{{"command":"{cmd}","params":"{params}","token":"t"}}"#);
        write!(self.ctrl, "{}:{json},", json.len()).expect("send");
    }

    /// Read netstrings until one contains `needle` or the time runs out.
    fn wait_for(&mut self, needle: &str, within: Duration) -> bool {
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

#[test]
fn two_baresip_phones_register_call_answer_and_hang_up() {
    require_tool("baresip");
    let mut svar = Svar::start();
    let mut anne = Phone::start(&svar, "1001", "demo-anne-1001");
    let mut bo = Phone::start(&svar, "1002", "demo-bo-1002");
    // REGISTER_OK may come before the control connection: ask svar instead
    let deadline = Instant::now() + Duration::from_secs(10);
    while svar.metric("svar_registrations") != Some(2.0) {
        assert!(Instant::now() < deadline, "phones did not register:\n{}", svar.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    anne.command("dial", "sip:1002@egeskov.example");
    assert!(bo.wait_for("CALL_ESTABLISHED", Duration::from_secs(10)), "callee: {:?}\n{}", bo.events, svar.log());
    assert!(anne.wait_for("CALL_ESTABLISHED", Duration::from_secs(10)), "caller: {:?}\n{}", anne.events, svar.log());
    assert_eq!(svar.metric("svar_active_calls"), Some(1.0));
    std::thread::sleep(Duration::from_millis(500));

    anne.command("hangup", "");
    assert!(bo.wait_for("CALL_CLOSED", Duration::from_secs(10)), "callee never saw the hang-up: {:?}", bo.events);
    assert!(anne.wait_for("CALL_CLOSED", Duration::from_secs(10)), "caller: {:?}", anne.events);

    drop(anne);
    drop(bo);
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].outcome, Outcome::Answered);
    assert_eq!(recs[0].hangup_by, Some(Party::Caller));
    assert_eq!((recs[0].caller.as_str(), recs[0].callee.as_str()), ("1001", "1002"));
}
