//! svar against SIPp over real sockets: registration with digest, calls between users,
//! CANCEL, busy, BYE from either side, trunk calls in and out, the toll-fraud rule, and
//! the call records that come out of each.

mod common;

use common::{Svar, free_port, require_tool, scenario, sipp, sipp_bg, wait_sipp};
use pbx::record::{Direction, Outcome, Party};

/// Caller 1001 runs `uac` towards `service`; the callee (if any) runs `uas` as 1002.
fn call(svar: &Svar, uac: &str, service: &str, uas: Option<&str>) {
    let target = format!("127.0.0.1:{}", svar.sip);
    let callee = uas.map(|uas| {
        let port = free_port();
        svar.register("1002", "demo-bo-1002", port);
        sipp_bg(&svar.dir, &["-sf", &scenario(uas), "-p", &port.to_string(), "-m", "1"])
    });
    let inf = svar.users_file("1001", "demo-anne-1001");
    let caller_port = free_port().to_string();
    let (ok, err) =
        sipp(&svar.dir, &["-sf", &scenario(uac), "-inf", &inf, "-s", service, &target, "-m", "1", "-p", &caller_port]);
    assert!(ok, "caller scenario {uac} failed:\n{err}\n--- svar log ---\n{}", svar.log());
    if let Some(bg) = callee {
        let (ok, err) = wait_sipp(bg);
        assert!(ok, "callee scenario {uas:?} failed:\n{err}\n--- svar log ---\n{}", svar.log());
    }
}

fn only_record(svar: &mut Svar) -> pbx::record::CallRecord {
    assert_eq!(svar.stop(), Some(0), "svar exits cleanly on SIGTERM");
    let recs = svar.records();
    assert_eq!(recs.len(), 1, "exactly one call record: {recs:?}");
    recs.into_iter().next().expect("one")
}

#[test]
fn register_with_md5_digest_and_keep_binding_across_restart() {
    require_tool("sipp");
    let mut svar = Svar::start();
    svar.register("1001", "demo-anne-1001", free_port());
    assert_eq!(svar.metric("svar_registrations"), Some(1.0));
    // a wrong password is refused and counted
    let inf = svar.users_file("1001", "wrong-password");
    let (ok, _) = sipp(
        &svar.dir,
        &[
            "-sf",
            &scenario("register.xml"),
            "-inf",
            &inf,
            &format!("127.0.0.1:{}", svar.sip),
            "-m",
            "1",
            "-p",
            &free_port().to_string(),
            "-recv_timeout",
            "3000",
        ],
    );
    assert!(!ok, "wrong password must not register");
    assert!(svar.metric("svar_auth_failures_total").unwrap_or(0.0) >= 1.0);
    assert_eq!(svar.stop(), Some(0));
    svar.spawn();
    assert_eq!(svar.metric("svar_registrations"), Some(1.0), "binding restored from the store");
}

#[test]
fn call_between_users_caller_hangs_up() {
    require_tool("sipp");
    let mut svar = Svar::start();
    call(&svar, "uac_call.xml", "1002", Some("uas_answer.xml"));
    let r = only_record(&mut svar);
    assert_eq!((r.outcome, r.status, r.direction), (Outcome::Answered, 200, Direction::Internal));
    assert_eq!((r.caller.as_str(), r.callee.as_str()), ("1001", "1002"));
    assert_eq!(r.hangup_by, Some(Party::Caller));
    assert!(r.answered_ms.is_some_and(|a| a >= r.started_ms && a <= r.ended_ms));
}

#[test]
fn callee_hangs_up() {
    require_tool("sipp");
    let mut svar = Svar::start();
    call(&svar, "uac_wait_bye.xml", "1002", Some("uas_bye.xml"));
    let r = only_record(&mut svar);
    assert_eq!(r.outcome, Outcome::Answered);
    assert_eq!(r.hangup_by, Some(Party::Callee));
}

#[test]
fn caller_cancels_while_ringing() {
    require_tool("sipp");
    let mut svar = Svar::start();
    call(&svar, "uac_cancel.xml", "1002", Some("uas_ring.xml"));
    let r = only_record(&mut svar);
    assert_eq!((r.outcome, r.status), (Outcome::Cancelled, 487));
    assert_eq!(r.answered_ms, None);
}

#[test]
fn busy_callee_gives_486() {
    require_tool("sipp");
    let mut svar = Svar::start();
    call(&svar, "uac_busy.xml", "1002", Some("uas_busy.xml"));
    assert_eq!(svar.metric("svar_calls_total{outcome=\"busy\"}"), Some(1.0));
    let r = only_record(&mut svar);
    assert_eq!((r.outcome, r.status), (Outcome::Busy, 486));
}

#[test]
fn unregistered_callee_gives_480() {
    require_tool("sipp");
    let mut svar = Svar::start();
    call(&svar, "uac_unavailable.xml", "1003", None);
    let r = only_record(&mut svar);
    assert_eq!((r.outcome, r.status), (Outcome::Unavailable, 480));
}

#[test]
fn inbound_trunk_call_reaches_the_did_owner() {
    require_tool("sipp");
    let mut svar = Svar::start();
    let port = free_port();
    svar.register("1002", "demo-bo-1002", port);
    let callee = sipp_bg(&svar.dir, &["-sf", &scenario("uas_answer.xml"), "-p", &port.to_string(), "-m", "1"]);
    let inf = svar.users_file("+4512345678", "unused");
    // the provider sends from its trusted address: no challenge
    let (ok, err) = sipp(
        &svar.dir,
        &[
            "-sf",
            &scenario("trunk_in.xml"),
            "-inf",
            &inf,
            "-s",
            "+4570102002",
            &format!("127.0.0.1:{}", svar.sip),
            "-m",
            "1",
            "-p",
            &svar.trunk.to_string(),
        ],
    );
    assert!(ok, "trunk call failed:\n{err}\n{}", svar.log());
    let (ok, err) = wait_sipp(callee);
    assert!(ok, "callee failed:\n{err}");
    let r = only_record(&mut svar);
    assert_eq!((r.direction, r.outcome), (Direction::Inbound, Outcome::Answered));
    assert_eq!(r.callee, "1002");
    // the record keeps the number (a callback needs it) ...
    assert_eq!(r.caller, "+4512345678");
    // ... the log never does (DOMAIN.md §3): at most the last two digits
    let log = svar.log();
    assert!(log.contains("call ended"), "the call was logged:\n{log}");
    for number in ["4512345678", "12345678", "70102002", "+4570102002"] {
        assert!(!log.contains(number), "phone number {number} in the log:\n{log}");
    }
}

#[test]
fn outbound_international_and_premium_calls_are_refused() {
    require_tool("sipp");
    let mut svar = Svar::start();
    // the route "udland-via-omstilling" matches 00... but does not allow international
    call(&svar, "uac_forbidden.xml", "004612345678", None);
    call(&svar, "uac_forbidden.xml", "90123456", None);
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 2);
    assert!(
        recs.iter().all(|r| r.outcome == Outcome::Forbidden && r.status == 403 && r.direction == Direction::Outbound)
    );
}

#[test]
fn outbound_national_call_goes_out_through_the_trunk() {
    require_tool("sipp");
    let mut svar = Svar::start();
    // the provider side: a SIPp UAS on the trunk's address
    let provider = sipp_bg(&svar.dir, &["-sf", &scenario("uas_answer.xml"), "-p", &svar.trunk.to_string(), "-m", "1"]);
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
    assert!(ok, "provider failed:\n{err}");
    let r = only_record(&mut svar);
    assert_eq!((r.direction, r.outcome), (Direction::Outbound, Outcome::Answered));
    assert_eq!(r.trunk.as_deref(), Some("udbyder"));
}
