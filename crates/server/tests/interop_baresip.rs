//! Two real softphones (baresip, from Debian's package) register with svar, one calls the
//! other, the callee answers automatically, the caller hangs up; both phones see it, and
//! the call record says so.

mod common;

use std::time::{Duration, Instant};

use common::baresip::Phone;
use common::{Svar, require_tool};
use pbx::record::{Outcome, Party};

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
