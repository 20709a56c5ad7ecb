//! Runs the real `svar` binary with a generated configuration on free loopback ports,
//! and real SIP peers (SIPp, baresip) against it. `SVAR_BIN` picks the binary (CI uses
//! the release build); otherwise the one cargo built for this test.
#![allow(dead_code, unreachable_pub)]

pub mod baresip;
pub mod sinks;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A free port for UDP and TCP on 127.0.0.1, below 40000: [`media_ports`] hands out
/// 41000 and up, which svar binds without asking (with both bases from the process id, a
/// SIP port of 53000 once met an RTP block of 53000 and the call failed).
pub fn free_port() -> u16 {
    if NEXT_PORT.load(Ordering::SeqCst) == 0 {
        let base = 20000 + (std::process::id() % 190) as u16 * 100;
        let _ = NEXT_PORT.compare_exchange(0, base, Ordering::SeqCst, Ordering::SeqCst);
    }
    loop {
        let p = NEXT_PORT.fetch_add(2, Ordering::SeqCst);
        if UdpSocket::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p)).is_ok()
            && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok()
        {
            return p;
        }
    }
}

static NEXT_MEDIA: AtomicU16 = AtomicU16::new(0);

/// A block of 20 RTP port pairs for one svar, away from the SIP and HTTP ports.
pub fn media_ports() -> (u16, u16) {
    if NEXT_MEDIA.load(Ordering::SeqCst) == 0 {
        let base = 41000 + (std::process::id() % 20) as u16 * 1200;
        let _ = NEXT_MEDIA.compare_exchange(0, base, Ordering::SeqCst, Ordering::SeqCst);
    }
    let first = NEXT_MEDIA.fetch_add(40, Ordering::SeqCst);
    (first, first + 39)
}

thread_local! {
    static SIP_HOST: std::cell::RefCell<&'static str> = const { std::cell::RefCell::new("127.0.0.1") };
}

/// The address svar's SIP side binds in tests started on this thread.
pub fn sip_host() -> &'static str {
    SIP_HOST.with(|h| *h.borrow())
}

/// Start the next svar of this thread on IPv6 loopback.
pub fn use_ipv6() {
    SIP_HOST.with(|h| *h.borrow_mut() = "[::1]");
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

pub fn scenario(name: &str) -> String {
    repo_root().join("tests/sipp").join(name).display().to_string()
}

pub fn require_tool(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run scripts/test.sh (it installs SIPp and baresip from Debian's packages)"
    );
}

pub struct Svar {
    pub child: Option<Child>,
    pub sip: u16,
    pub http: u16,
    pub trunk: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
}

pub fn config_text(sip: u16, http: u16, trunk: u16, dir: &Path, extra_sip: &str) -> String {
    let (first, last) = media_ports();
    format!(
        r#"
[server]
sip = "127.0.0.1:{sip}"
http = "127.0.0.1:{http}"
data_dir = "{dir}"
drain_grace_s = 2

[sip]
domain = "egeskov.example"
ring_timeout_s = 4
min_expires = 60
{extra_sip}

[municipality]
name = "Testkommune"

[[users]]
extension = "1001"
name = "Anne Andersen"
password = "demo-anne-1001"
caller_id = "+4570102001"

[[users]]
extension = "1002"
name = "Bo Berg"
password = "demo-bo-1002"

[[users]]
extension = "1003"
name = "Cecilie Dahl"
password = "demo-cecilie-1003"

[[trunks]]
name = "udbyder"
proxy = "127.0.0.1:{trunk}"
allowed_sources = ["127.0.0.1:{trunk}"]
caller_id = "+4570102000"

[[dids]]
number = "+4570102002"
user = "1002"

[[routes]]
name = "danmark"
patterns = ["NXXXXXXX", "+45NXXXXXXX", "112"]
trunk = "udbyder"

[[routes]]
name = "udland-via-omstilling"
patterns = ["00."]
trunk = "udbyder"

[media]
ports = [{first}, {last}]
"#,
        dir = dir.display(),
    )
}

impl Svar {
    pub fn start() -> Self {
        Self::start_with("")
    }

    pub fn start_with(extra_sip: &str) -> Self {
        Self::start_full(extra_sip, "")
    }

    /// Start with extra `[sip]` lines and extra keys for the trunk.
    pub fn start_full(extra_sip: &str, extra_trunk: &str) -> Self {
        Self::start_appending(extra_sip, extra_trunk, "")
    }

    /// Start with a configuration of the test's own, made from (sip, http, data dir).
    pub fn start_custom(make: impl FnOnce(u16, u16, &Path) -> String) -> Self {
        let sip = free_port();
        let http = free_port();
        let dir = std::env::temp_dir().join(format!("svar-it-{}-{sip}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let config = dir.join("svar.toml");
        std::fs::write(&config, make(sip, http, &dir)).expect("config");
        let mut s = Self { child: None, sip, http, trunk: 0, dir, config };
        s.spawn();
        s
    }

    /// Start with extra `[sip]` lines, extra trunk keys and whole sections appended.
    pub fn start_appending(extra_sip: &str, extra_trunk: &str, extra_toml: &str) -> Self {
        let sip = free_port();
        let http = free_port();
        let trunk = free_port();
        let dir = std::env::temp_dir().join(format!("svar-it-{}-{sip}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let config = dir.join("svar.toml");
        let text = config_text(sip, http, trunk, &dir.join("data"), extra_sip)
            .replace(&format!("sip = \"127.0.0.1:{sip}\""), &format!("sip = \"{}:{sip}\"", sip_host()))
            .replace("caller_id = \"+4570102000\"\n", &format!("caller_id = \"+4570102000\"\n{extra_trunk}\n"))
            + extra_toml;
        std::fs::write(&config, text).expect("config");
        let mut s = Self { child: None, sip, http, trunk, dir, config };
        s.spawn();
        s
    }

    pub fn bin() -> String {
        std::env::var("SVAR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_svar").to_owned())
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("svar.log")).expect("log");
        let child = Command::new(Self::bin())
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn svar");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_get(self.http, "/healthz").is_some_and(|(code, _)| code == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("svar did not become healthy; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("svar.log")).unwrap_or_default()
    }

    pub fn metrics(&self) -> String {
        http_get(self.http, "/metrics").map(|(_, b)| b).unwrap_or_default()
    }

    /// The value of one metric line, e.g. `svar_calls_total{outcome="busy"}`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics().lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("svar did not stop after SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Call records from the store (after `stop`).
    pub fn records(&self) -> Vec<pbx_record::Rec> {
        pbx_record::read(&self.dir.join("data"))
    }

    /// A SIPp injection file with one `user;password` line; returns its path.
    pub fn users_file(&self, user: &str, password: &str) -> String {
        let p = self.dir.join(format!("u-{user}.csv"));
        std::fs::write(&p, format!("SEQUENTIAL\n{user};{password}\n")).expect("inf");
        p.display().to_string()
    }

    /// Register `user` from `port` with SIPp.
    pub fn register(&self, user: &str, password: &str, port: u16) {
        let inf = self.users_file(user, password);
        let out = sipp(
            &self.dir,
            &[
                "-sf",
                &scenario("register.xml"),
                "-inf",
                &inf,
                &format!("127.0.0.1:{}", self.sip),
                "-m",
                "1",
                "-p",
                &port.to_string(),
            ],
        );
        assert!(out.0, "REGISTER of {user} failed:\n{}\n--- svar log ---\n{}", out.1, self.log());
    }
}

impl Drop for Svar {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Minimal HTTP/1.0 request with headers and an optional JSON body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split(' ').nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|x| x.1.to_owned()).unwrap_or_default();
    Some((code, body))
}

/// Minimal HTTP/1.0 GET.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split(' ').nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|x| x.1.to_owned()).unwrap_or_default();
    Some((code, body))
}

static NEXT_LOG: AtomicU16 = AtomicU16::new(0);

/// Spawn SIPp bounded by `timeout`, its errors going to a log file of its own.
fn spawn_sipp(dir: &Path, args: &[&str]) -> (Child, PathBuf) {
    let err = dir.join(format!("sipp-err-{}.log", NEXT_LOG.fetch_add(1, Ordering::SeqCst)));
    let child = Command::new("timeout")
        .arg("30")
        .arg("sipp")
        .args(args)
        .args(["-nostdin", "-trace_err", "-error_file"])
        .arg(&err)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sipp");
    (child, err)
}

/// Run SIPp in the foreground (bounded by `timeout`); returns (success, error log).
pub fn sipp(dir: &Path, args: &[&str]) -> (bool, String) {
    wait_sipp(spawn_sipp(dir, args))
}

/// 1001 calls 1002, both SIPp in the background: `uas` (a scenario path) registered as
/// 1002 answers, `uac` calls it. Returns (caller, callee) for [`wait_sipp`].
pub fn call_in_background(svar: &Svar, uac: &str, uas: &str) -> ((Child, PathBuf), (Child, PathBuf)) {
    let callee_sip = free_port();
    svar.register("1002", "demo-bo-1002", callee_sip);
    let callee = sipp_bg(&svar.dir, &["-sf", uas, "-p", &callee_sip.to_string(), "-m", "1"]);
    let inf = svar.users_file("1001", "demo-anne-1001");
    let target = format!("127.0.0.1:{}", svar.sip);
    let port = free_port().to_string();
    let caller = sipp_bg(&svar.dir, &["-sf", uac, "-inf", &inf, "-s", "1002", &target, "-m", "1", "-p", &port]);
    (caller, callee)
}

/// Start SIPp in the background (a callee); wait with [`wait_sipp`].
pub fn sipp_bg(dir: &Path, args: &[&str]) -> (Child, PathBuf) {
    let bg = spawn_sipp(dir, args);
    // give it time to bind before the caller starts
    std::thread::sleep(Duration::from_millis(300));
    bg
}

pub fn wait_sipp(bg: (Child, PathBuf)) -> (bool, String) {
    let (mut child, err) = bg;
    let status = child.wait().expect("wait sipp");
    (status.success(), std::fs::read_to_string(&err).unwrap_or_default())
}

pub mod pbx_record {
    //! Reading call records back through the store crate.
    use std::path::Path;

    use store::Store;

    pub type Rec = pbx::record::CallRecord;

    pub fn read(dir: &Path) -> Vec<Rec> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let s = store_sqlite::SqliteStore::open_dir(dir).await.expect("open store");
            s.recent_call_records(100).await.expect("records")
        })
    }
}
