//! Edges: hostile and malformed datagrams, SHA-256 digest over a real socket, a call over
//! TCP, and a graceful shutdown with a call up.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Svar, call_in_background, free_port, require_tool, scenario, sipp, sipp_bg, use_ipv6, wait_sipp};
use pbx::record::{Outcome, Party};

fn udp_exchange(sock: &UdpSocket, to: u16, msg: &[u8]) -> Option<String> {
    sock.send_to(msg, ("127.0.0.1", to)).expect("send");
    let mut buf = [0u8; 65536];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    }
}

fn status(resp: &Option<String>) -> Option<u16> {
    resp.as_ref().and_then(|r| r.split(' ').nth(1)).and_then(|s| s.parse().ok())
}

fn request(method: &str, uri: &str, extra: &str, n: u32) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKedge{n};rport\r\nFrom: <sip:x@egeskov.example>;tag=e{n}\r\nTo: <sip:1001@egeskov.example>\r\nCall-ID: edge-{n}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn hostile_and_malformed_messages_get_the_right_status_and_svar_keeps_serving() {
    let svar = Svar::start();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let uri = format!("sip:1001@127.0.0.1:{}", svar.sip);
    let cases: Vec<(String, Option<u16>)> = vec![
        (request("OPTIONS", &uri, "", 1).replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia"), Some(505)),
        (request("OPTIONS", &uri, "", 2).replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), Some(400)),
        (request("OPTIONS", &uri, "", 3).replace("Call-ID: edge-3\r\n", ""), Some(400)),
        (request("OPTIONS", &uri, "Content-Length: 5\r\n", 4), Some(400)),
        (request("OPTIONS", &uri, "", 5).replace("Content-Length: 0", "Content-Length: -7"), Some(400)),
        (request("OPTIONS", &uri, "", 6).replace("CSeq: 1 OPTIONS", "CSeq: 99999999999 OPTIONS"), Some(400)),
        (
            request("OPTIONS", &uri, "", 7)
                .replace("From: <sip:x@egeskov.example>", "From: \"unterminated <sip:x@egeskov.example>"),
            Some(400),
        ),
        (request("OPTIONS", &format!("<{uri}>"), "", 8), Some(400)),
        (request("FROBNICATE", &uri, "", 9), Some(501)),
        (request("OPTIONS", "xmpp:someone@example.org", "", 10), Some(416)),
        (request("INVITE", &uri, "", 11).replace("Max-Forwards: 70", "Max-Forwards: 0"), Some(483)),
        (request("OPTIONS", &uri, "Require: nothingSupportedHere\r\n", 12), Some(420)),
        (
            request("OPTIONS", &uri, "X-Flood: ".to_string().as_str(), 13)
                .replace("X-Flood: ", &"X-Flood: a\r\n".repeat(200)),
            Some(400),
        ),
        (
            request("BYE", &uri, "", 14)
                .replace("To: <sip:1001@egeskov.example>", "To: <sip:1001@egeskov.example>;tag=nosuch"),
            Some(481),
        ),
        // not SIP at all, and a broken response: dropped silently
        ("\u{0}\u{1}\u{2} GET / HTTP/1.1\r\n\r\n".to_owned(), None),
        ("SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n".to_owned(), None),
        ("SIP/2.0 999 Too Big\r\n\r\n".to_owned(), None),
    ];
    for (i, (msg, want)) in cases.iter().enumerate() {
        let got = udp_exchange(&sock, svar.sip, msg.as_bytes());
        assert_eq!(status(&got), *want, "case {i}: {msg:?} got {got:?}");
        // a well-behaved client ACKs a final response to its INVITE (else Timer G resends it)
        if let (true, Some(resp)) = (msg.starts_with("INVITE"), &got) {
            let to = resp.lines().find(|l| l.starts_with("To:")).expect("To");
            let ack = msg
                .replacen("INVITE ", "ACK ", 1)
                .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
                .replace("To: <sip:1001@egeskov.example>", to);
            sock.send_to(ack.as_bytes(), ("127.0.0.1", svar.sip)).expect("ack");
        }
    }
    // an INVITE with an unsupported body type: 415 once authenticated; unauthenticated 407
    let inv = request("INVITE", &uri, "Content-Type: application/x-unknown\r\n", 20)
        .replace("Content-Length: 0\r\n\r\n", "Content-Length: 4\r\n\r\nabcd");
    assert_eq!(status(&udp_exchange(&sock, svar.sip, inv.as_bytes())), Some(415));
    // and svar is still there
    let ok = udp_exchange(&sock, svar.sip, request("OPTIONS", &uri, "", 30).as_bytes());
    assert_eq!(status(&ok), Some(200), "svar stopped answering");
    let m = svar.metrics();
    assert!(m.contains("svar_sip_parse_errors_total{reason=\"version\"}"), "{m}");
}

#[test]
fn sha256_and_md5_digest_both_register_on_one_server() {
    require_tool("sipp");
    let svar = Svar::start_with(r#"digest_algorithms = ["MD5", "SHA-256"]"#);
    // SIPp answers the first challenge (MD5)
    svar.register("1001", "demo-anne-1001", free_port());
    // our RFC 7616 client answers the SHA-256 one over a real socket
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let me = sock.local_addr().expect("addr");
    let reg = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:egeskov.example SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKsha{cseq};rport\r\nFrom: <sip:1002@egeskov.example>;tag=s\r\nTo: <sip:1002@egeskov.example>\r\nCall-ID: sha256-reg\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:1002@{me}>\r\n{auth}Expires: 600\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let challenge = udp_exchange(&sock, svar.sip, reg(1, "").as_bytes()).expect("401");
    assert_eq!(status(&Some(challenge.clone())), Some(401));
    let sha = challenge
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate:") && l.contains("SHA-256"))
        .expect("a SHA-256 challenge");
    let value = sha.trim_start_matches("WWW-Authenticate:").trim();
    let answer =
        sip::digest::answer_challenge(value, "REGISTER", "sip:egeskov.example", "1002", "demo-bo-1002", "0a4f113b", 1)
            .expect("answer");
    assert!(answer.contains("algorithm=SHA-256"));
    let ok = udp_exchange(&sock, svar.sip, reg(2, &format!("Authorization: {answer}\r\n")).as_bytes());
    assert_eq!(status(&ok), Some(200), "{ok:?}");
    // the same nonce-count again is a replay
    let replay = udp_exchange(&sock, svar.sip, reg(3, &format!("Authorization: {answer}\r\n")).as_bytes());
    assert_eq!(status(&replay), Some(401));
    assert_eq!(svar.metric("svar_registrations"), Some(2.0));
}

#[test]
fn call_over_tcp_from_the_caller() {
    require_tool("sipp");
    let mut svar = Svar::start();
    let port = free_port();
    svar.register("1002", "demo-bo-1002", port);
    let callee = sipp_bg(&svar.dir, &["-sf", &scenario("uas_answer.xml"), "-p", &port.to_string(), "-m", "1"]);
    let inf = svar.users_file("1001", "demo-anne-1001");
    let (ok, err) = sipp(
        &svar.dir,
        &[
            "-sf",
            &scenario("uac_call.xml"),
            "-t",
            "t1",
            "-inf",
            &inf,
            "-s",
            "1002",
            &format!("127.0.0.1:{}", svar.sip),
            "-m",
            "1",
            "-p",
            &free_port().to_string(),
        ],
    );
    assert!(ok, "TCP caller failed:\n{err}\n{}", svar.log());
    let (ok, err) = wait_sipp(callee);
    assert!(ok, "callee failed:\n{err}");
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].outcome, Outcome::Answered);
}

#[test]
fn sigterm_refuses_new_calls_and_hangs_up_the_rest_after_the_grace_period() {
    require_tool("sipp");
    let mut svar = Svar::start();
    let (caller, callee) = call_in_background(&svar, &scenario("uac_wait_bye.xml"), &scenario("uas_answer.xml"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while svar.metric("svar_active_calls") != Some(1.0) {
        assert!(Instant::now() < deadline, "call did not come up:\n{}", svar.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = svar.child.as_ref().expect("running").id();
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    std::thread::sleep(Duration::from_millis(200));
    // within the grace period (2 s in the test config): new calls get 503
    let inf = svar.users_file("1001", "demo-anne-1001");
    let target = format!("127.0.0.1:{}", svar.sip);
    let (ok, err) = sipp(
        &svar.dir,
        &[
            "-sf",
            &scenario("uac_draining.xml"),
            "-inf",
            &inf,
            "-s",
            "1002",
            &target,
            "-m",
            "1",
            "-p",
            &free_port().to_string(),
        ],
    );
    assert!(ok, "new call during drain did not get 503:\n{err}\n{}", svar.log());
    // after it, svar hangs up both legs
    let (ok, err) = wait_sipp(caller);
    assert!(ok, "caller did not get svar's BYE:\n{err}\n{}", svar.log());
    let (ok, err) = wait_sipp(callee);
    assert!(ok, "callee did not get svar's BYE:\n{err}");
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert!(recs.iter().any(|r| r.outcome == Outcome::Draining && r.status == 503));
    assert!(recs.iter().any(|r| r.outcome == Outcome::Answered && r.hangup_by == Some(Party::System)));
}

#[test]
fn svar_registers_its_trunk_with_the_provider_using_digest() {
    require_tool("sipp");
    let svar = Svar::start_full("", "username = \"trunkuser\"\npassword = \"trunkpass\"\nregister = true");
    // the provider comes up on the trunk's address; svar's retransmissions (Timer E) reach it
    let provider =
        sipp_bg(&svar.dir, &["-sf", &scenario("provider_registrar.xml"), "-p", &svar.trunk.to_string(), "-m", "1"]);
    let (ok, err) = wait_sipp(provider);
    assert!(ok, "provider did not see an authenticated REGISTER:\n{err}\n{}", svar.log());
    let deadline = Instant::now() + Duration::from_secs(5);
    while svar.metric("svar_trunks_registered") != Some(1.0) {
        assert!(Instant::now() < deadline, "trunk not registered:\n{}", svar.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ipv6_registration_and_call() {
    require_tool("sipp");
    use_ipv6();
    let mut svar = Svar::start();
    let target = format!("[::1]:{}", svar.sip);
    let inf = svar.users_file("1002", "demo-bo-1002");
    let port = free_port();
    let (ok, err) = sipp(
        &svar.dir,
        &["-sf", &scenario("register.xml"), "-inf", &inf, "-i", "::1", &target, "-m", "1", "-p", &port.to_string()],
    );
    assert!(ok, "IPv6 REGISTER failed:\n{err}\n{}", svar.log());
    let callee =
        sipp_bg(&svar.dir, &["-sf", &scenario("uas_answer.xml"), "-i", "::1", "-p", &port.to_string(), "-m", "1"]);
    let caller_inf = svar.users_file("1001", "demo-anne-1001");
    let (ok, err) = sipp(
        &svar.dir,
        &[
            "-sf",
            &scenario("uac_call.xml"),
            "-inf",
            &caller_inf,
            "-i",
            "::1",
            "-s",
            "1002",
            &target,
            "-m",
            "1",
            "-p",
            &free_port().to_string(),
        ],
    );
    assert!(ok, "IPv6 call failed:\n{err}\n{}", svar.log());
    let (ok, err) = wait_sipp(callee);
    assert!(ok, "IPv6 callee failed:\n{err}");
    assert_eq!(svar.stop(), Some(0));
    assert_eq!(svar.records()[0].outcome, Outcome::Answered);
}

#[test]
fn outbound_call_answers_the_providers_challenge_with_the_trunk_account() {
    require_tool("sipp");
    let mut svar = Svar::start_full("", "username = \"trunkuser\"\npassword = \"trunkpass\"");
    let provider =
        sipp_bg(&svar.dir, &["-sf", &scenario("provider_auth_uas.xml"), "-p", &svar.trunk.to_string(), "-m", "1"]);
    let inf = svar.users_file("1001", "demo-anne-1001");
    let (ok, err) = sipp(
        &svar.dir,
        &[
            "-sf",
            &scenario("uac_call.xml"),
            "-inf",
            &inf,
            "-s",
            "43591000",
            &format!("127.0.0.1:{}", svar.sip),
            "-m",
            "1",
            "-p",
            &free_port().to_string(),
        ],
    );
    assert!(ok, "caller failed:\n{err}\n{}", svar.log());
    let (ok, err) = wait_sipp(provider);
    assert!(ok, "provider did not get an authenticated INVITE:\n{err}\n{}", svar.log());
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].outcome, recs[0].trunk.as_deref()), (Outcome::Answered, Some("udbyder")));
}
