//! The main number answered by svar with real SIP and RTP: a SIPp trunk caller sends
//! keys as RFC 4733 events from Debian's sip-tester captures (`play_pcap_audio`); key 1
//! puts it through to an employee (a SIPp phone registered as 1002), key 2 goes to an
//! employee with no phone, so the caller leaves a message (A-law audio from g711a.pcap)
//! that is stored under the data directory and becomes an obligation.

mod common;

use common::baresip::Phone;
use common::{Svar, config_text, free_port, repo_root, require_tool, scenario, sipp, sipp_bg, wait_sipp};
use pbx::record::Outcome;

const PCAPS: &str = "/usr/share/sip-tester";

fn ivr_svar() -> Svar {
    let prompts = repo_root().join("prompts");
    Svar::start_custom(|sip, http, dir| {
        let trunk = free_port();
        let text = config_text(sip, http, trunk, &dir.join("data"), "")
            .replace("password = \"demo-bo-1002\"", "password = \"demo-bo-1002\"\nteam = \"omstilling\"")
            .replace(
                "[[dids]]\nnumber = \"+4570102002\"\nuser = \"1002\"",
                "[[dids]]\nnumber = \"+4570102002\"\nivr = true",
            );
        format!(
            r#"{text}
[[departments]]
id = "omstillingen"
name = "Omstillingen"
mon = "00:00-24:00"

[[teams]]
id = "omstilling"
name = "Omstillingen"
department = "omstillingen"

[ivr]
prompts_dir = "{prompts}"
language = "da"
numbers = ["100"]
transfer_timeout_s = 8

[[ivr.menus]]
id = "hoved"
prompt = ["velkommen", "hovedmenu"]
timeout_s = 10
fallback = "operator"
options = {{ "1" = "user:1002", "2" = "user:1003", "9" = "operator" }}
"#,
            prompts = prompts.display()
        )
    })
}

/// The trunk port of a custom config is not known to the test: find it in the config.
fn trunk_port(svar: &Svar) -> u16 {
    let text = std::fs::read_to_string(&svar.config).expect("config");
    let line = text.lines().find(|l| l.starts_with("proxy = ")).expect("trunk proxy");
    line.rsplit(':').next().and_then(|p| p.trim_end_matches('"').parse().ok()).expect("port")
}

fn caller(svar: &Svar, pcap: &str, talk_ms: u32) -> (bool, String) {
    let template = std::fs::read_to_string(scenario("ivr_keys.xml")).expect("scenario");
    let sf = svar.dir.join("ivr_keys.xml");
    let text = template.replace("@KEY_PCAP@", &format!("{PCAPS}/{pcap}")).replace("@TALK_MS@", &talk_ms.to_string());
    std::fs::write(&sf, text).expect("scenario");
    let target = format!("127.0.0.1:{}", svar.sip);
    let trunk = trunk_port(svar).to_string();
    // SIPp binds four ports from -mp (RTP, RTCP, video RTP, video RTCP)
    let media = free_port().to_string();
    let _ = free_port();
    sipp(
        &svar.dir,
        &["-sf", &sf.display().to_string(), "-s", "+4570102002", &target, "-m", "1", "-p", &trunk, "-mp", &media],
    )
}

/// The log without terminal colours.
fn plain_log(svar: &Svar) -> String {
    let log = svar.log();
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn key_1_puts_the_caller_through_to_the_employee() {
    require_tool("sipp");
    let mut svar = ivr_svar();
    let phone = free_port();
    svar.register("1002", "demo-bo-1002", phone);
    let callee = sipp_bg(&svar.dir, &["-sf", &scenario("uas_answer.xml"), "-p", &phone.to_string(), "-m", "1"]);
    let (ok, err) = caller(&svar, "dtmf_2833_1.pcap", 2000);
    assert!(ok, "caller failed:\n{err}\n--- svar log ---\n{}", svar.log());
    let (ok, err) = wait_sipp(callee);
    assert!(ok, "the employee's phone never got the call:\n{err}\n--- svar log ---\n{}", svar.log());
    let log = plain_log(&svar);
    assert!(log.contains("target=user:1002 phones=1"), "key 1 chose user:1002: {log}");
    assert!(log.contains("IVR caller put through and answered"), "{log}");
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].outcome, Outcome::Answered);
}

#[test]
fn key_2_to_an_employee_without_a_phone_leaves_a_message_that_becomes_an_obligation() {
    require_tool("sipp");
    let mut svar = ivr_svar();
    // "indtal besked" plays after the key, then svar records until the caller hangs up
    let (ok, err) = caller(&svar, "dtmf_2833_2.pcap", 6000);
    assert!(ok, "caller failed:\n{err}\n--- svar log ---\n{}", svar.log());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !svar.log().contains("message stored") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = plain_log(&svar);
    assert!(log.contains("target=user:1003 phones=0"), "key 2 chose user:1003: {log}");
    assert!(log.contains("owner=employee:1003"), "{log}");
    assert!(log.contains("message stored"), "{log}");
    let dir = svar.dir.join("data/messages");
    let files: Vec<_> = std::fs::read_dir(&dir).expect("messages dir").flatten().collect();
    assert_eq!(files.len(), 1, "one recording");
    let wav = std::fs::read(files[0].path()).expect("wav");
    let reader = hound::WavReader::new(std::io::Cursor::new(wav)).expect("a WAV file");
    assert_eq!(reader.spec().sample_rate, 8000);
    assert!(reader.duration() > 8000, "more than a second of the caller's audio: {} samples", reader.duration());
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    let flow = recs[0].flow.clone().expect("the call flow is stored with the record");
    for step in ["entered hoved", "key 2", "routed user:1003", "no phone for user:1003", "recording for employee:1003"]
    {
        assert!(flow.contains(step), "{step:?} missing from the stored flow:\n{flow}");
    }
}

#[test]
fn a_baresip_phone_dials_the_menus_internally_and_keys_its_way_to_a_colleague() {
    require_tool("baresip");
    let mut svar = ivr_svar();
    let mut anne = Phone::start(&svar, "1001", "demo-anne-1001");
    let mut bo = Phone::start(&svar, "1002", "demo-bo-1002");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while svar.metric("svar_registrations") != Some(2.0) {
        assert!(std::time::Instant::now() < deadline, "phones did not register:\n{}", svar.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    anne.command("dial", "sip:100@egeskov.example");
    assert!(anne.wait_for("CALL_ESTABLISHED", std::time::Duration::from_secs(10)), "{:?}\n{}", anne.events, svar.log());
    std::thread::sleep(std::time::Duration::from_millis(800));
    anne.press("1");
    assert!(
        bo.wait_for("CALL_ESTABLISHED", std::time::Duration::from_secs(10)),
        "key 1 should ring 1002: {:?}\n{}",
        bo.events,
        plain_log(&svar)
    );
    let log = plain_log(&svar);
    assert!(log.contains("target=user:1002 phones=1"), "{log}");
    anne.command("hangup", "");
    assert!(bo.wait_for("CALL_CLOSED", std::time::Duration::from_secs(10)), "{:?}", bo.events);
    drop(anne);
    drop(bo);
    assert_eq!(svar.stop(), Some(0));
    let recs = svar.records();
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!((recs[0].caller.as_str(), recs[0].callee.as_str(), recs[0].outcome), ("1001", "100", Outcome::Answered));
}
