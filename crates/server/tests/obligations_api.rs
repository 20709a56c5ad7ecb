//! The obligation ledger over the API against the real binary (issue 4): a message
//! becomes an obligation, its owner gets an e-mail (local SMTP sink), the citizen an SMS
//! receipt (local HTTP sink standing for the gateway), undeliverable notifications are
//! retried and then shown as failed, every read is audited, and a `kill -9` while
//! obligations are being created loses none that was acknowledged.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::sinks::{HttpSink, SmtpSink};
use common::{Svar, http_request};

const TOKEN: &str = "test-token-0123456789abcdef";

fn sections(smtp: u16, sms_url: &str) -> String {
    format!(
        r#"
[api]
token = "{TOKEN}"

[notifications]
smtp = "127.0.0.1:{smtp}"
from = "svar@egeskov.example"
sms_url = "{sms_url}"
first_retry_s = 1
max_attempts = 3

[[departments]]
id = "byggeri"
name = "Byggeri"
mon = "08:00-16:00"
tue = "08:00-16:00"
wed = "08:00-16:00"
thu = "08:00-16:00"
fri = "08:00-14:00"

[[teams]]
id = "byggesag"
name = "Byggesagsbehandling"
department = "byggeri"
email = "byggesag@egeskov.example"
"#
    )
}

fn api(svar: &Svar, method: &str, path: &str, user: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {TOKEN}");
    let (code, text) = http_request(svar.http, method, path, &[("Authorization", &auth), ("X-Svar-User", user)], body)
        .expect("HTTP answer");
    (code, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_message_becomes_an_obligation_with_mail_to_the_team_and_a_receipt_to_the_citizen() {
    let smtp = SmtpSink::start();
    let sms = HttpSink::start(0);
    let svar = Svar::start_appending("", "", &sections(smtp.port, &sms.url()));

    let body = r#"{"caller": "20 30 40 50", "owner": "team:byggesag", "topic": "byggetilladelse"}"#;
    let (code, created) = api(&svar, "POST", "/api/obligations", "1001", Some(body));
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["caller"], "+4520304050");
    assert_eq!(created["state"], "open");
    let id = created["id"].as_u64().expect("id");
    let deadline: jiff::Timestamp = created["deadline"].as_str().expect("deadline").parse().expect("timestamp");
    let tz = jiff::tz::TimeZone::get("Europe/Copenhagen").expect("tz");
    let day = calendar::danish::day_and_date(deadline.to_zoned_datetime(tz).date());

    let mails = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1, "the team's mailbox is told");
    let mail = &mails[0];
    assert!(mail.contains("To: byggesag@egeskov.example"), "{mail}");
    assert!(mail.contains("Ring tilbage senest"), "{mail}");
    assert!(!mail.contains("20304050"), "no full phone number in e-mail: {mail}");

    let texts = sms.wait_for(1, Duration::from_secs(10));
    assert_eq!(texts.len(), 1);
    let (head, json) = &texts[0];
    assert!(head.starts_with("POST /sms"), "{head}");
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON to the gateway");
    assert_eq!(v["to"], "+4520304050");
    assert_eq!(
        v["text"],
        format!("Vi har modtaget din besked. Du bliver ringet op senest {day}. Venlig hilsen Testkommune")
    );

    // A repeat call folds into the open obligation: no new receipt.
    let (code, again) =
        api(&svar, "POST", "/api/obligations", "1002", Some(r#"{"caller": "+4520304050", "owner": "team:byggesag"}"#));
    assert_eq!(code, 200);
    assert_eq!(again["id"].as_u64(), Some(id));
    assert_eq!(again["repeat_calls"], 1);

    // Reading is audited, with who read it.
    let (code, read) = api(&svar, "GET", &format!("/api/obligations/{id}"), "1003", None);
    assert_eq!(code, 200);
    let trail: Vec<(String, String)> = read["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .map(|a| (a["action"].as_str().unwrap_or("").to_owned(), a["by"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert_eq!(
        trail,
        vec![("created".into(), "1001".into()), ("folded".into(), "1002".into()), ("read".into(), "1003".into())]
    );
    // The team's list, most urgent first.
    let (code, list) = api(&svar, "GET", "/api/obligations?owner=team:byggesag", "1001", None);
    assert_eq!(code, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // Work it to completion.
    for action in [r#"{"action": "start"}"#, r#"{"action": "attempt", "reached": false}"#, r#"{"action": "complete"}"#]
    {
        let (code, v) = api(&svar, "POST", &format!("/api/obligations/{id}/actions"), "1002", Some(action));
        assert_eq!(code, 200, "{action}: {v}");
    }
    let (code, v) =
        api(&svar, "POST", &format!("/api/obligations/{id}/actions"), "1002", Some(r#"{"action": "start"}"#));
    assert_eq!(code, 409, "a completed obligation does not start again: {v}");
    assert_eq!(svar.metric("svar_notifications_sent_total"), Some(2.0));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sms.requests.lock().expect("lock").len(), 1, "one receipt only");

    // No token, no access; and the acting user must be a user.
    let (code, _) = http_request(svar.http, "GET", &format!("/api/obligations/{id}"), &[], None).expect("answer");
    assert_eq!(code, 401);
    let (code, _) = api(&svar, "GET", &format!("/api/obligations/{id}"), "9999", None);
    assert_eq!(code, 403);
    let (code, v) =
        api(&svar, "POST", "/api/obligations", "1001", Some(r#"{"caller": "hemmeligt", "owner": "team:byggesag"}"#));
    assert_eq!(code, 422, "{v}");
    let (code, v) =
        api(&svar, "POST", "/api/obligations", "1001", Some(r#"{"caller": "20304051", "owner": "team:nowhere"}"#));
    assert_eq!(code, 422, "{v}");
}

#[test]
fn an_undeliverable_receipt_is_retried_then_shown_as_failed() {
    let smtp = SmtpSink::start();
    let sms = HttpSink::start(usize::MAX);
    let svar = Svar::start_appending("", "", &sections(smtp.port, &sms.url()));
    let (code, created) =
        api(&svar, "POST", "/api/obligations", "1001", Some(r#"{"caller": "+4520304052", "owner": "employee:1002"}"#));
    assert_eq!(code, 201, "{created}");
    // Attempts at once, after 1 s and after 4 more: then it is given up, visibly.
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let (_, list) = api(&svar, "GET", "/api/notifications?state=failed", "1001", None);
        if list.as_array().is_some_and(|l| !l.is_empty()) || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let failed = failed.as_array().expect("a list");
    assert_eq!(failed.len(), 1, "{failed:?}\n{}", svar.log());
    assert_eq!(failed[0]["channel"], "sms");
    assert_eq!(failed[0]["attempts"], 3);
    assert!(failed[0]["last_error"].as_str().is_some_and(|e| e.contains("503")), "{failed:?}");
    assert_eq!(sms.requests.lock().expect("lock").len(), 3);
    assert_eq!(svar.metric("svar_notifications_failed_total"), Some(1.0));
    assert!(svar.log().contains("notification given up"), "the log says so");
}

#[test]
fn kill_9_while_creating_loses_no_acknowledged_obligation() {
    let smtp = SmtpSink::start();
    let sms = HttpSink::start(0);
    let mut svar = Svar::start_appending("", "", &sections(smtp.port, &sms.url()));
    let acked: Arc<Mutex<Vec<(u64, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = svar.http;
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let acked = acked.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let auth = format!("Bearer {TOKEN}");
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let caller = format!("+45{:08}", 30_000_000 + w * 1_000_000 + i);
                    let body = format!(r#"{{"caller": "{caller}", "owner": "employee:1001"}}"#);
                    let headers = [("Authorization", auth.as_str()), ("X-Svar-User", "1003")];
                    match http_request(port, "POST", "/api/obligations", &headers, Some(&body)) {
                        Some((201, text)) => {
                            // A reply cut off by the kill is no acknowledgement.
                            let Some(id) =
                                serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["id"].as_u64())
                            else {
                                break;
                            };
                            acked.lock().expect("lock").push((id, caller));
                        }
                        Some((code, text)) => panic!("unexpected {code}: {text}"),
                        None => break, // svar is gone
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // SIGKILL: no shutdown path runs.
    svar.child.as_mut().expect("running").kill().expect("kill -9");
    let _ = svar.child.take().map(|mut c| c.wait());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acked.lock().expect("lock").clone();
    eprintln!("{} obligations acknowledged before kill -9", acked.len());
    assert!(acked.len() >= 20, "only {} obligations acknowledged before the kill", acked.len());
    let mut ids: Vec<u64> = acked.iter().map(|a| a.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), acked.len(), "every acknowledgement names its own obligation");

    svar.spawn();
    let (code, list) = api(&svar, "GET", "/api/obligations?owner=employee:1001", "1003", None);
    assert_eq!(code, 200);
    let stored: std::collections::HashMap<u64, String> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|o| (o["id"].as_u64().expect("id"), o["caller"].as_str().expect("caller").to_owned()))
        .collect();
    for (id, caller) in &acked {
        assert_eq!(stored.get(id), Some(caller), "acknowledged obligation {id} lost by kill -9");
    }
    // And new ones continue after the highest stored id.
    let (code, v) =
        api(&svar, "POST", "/api/obligations", "1003", Some(r#"{"caller": "+4599999999", "owner": "employee:1001"}"#));
    assert_eq!(code, 201);
    assert!(v["id"].as_u64().expect("id") > *ids.last().expect("some"), "{v}");
}
