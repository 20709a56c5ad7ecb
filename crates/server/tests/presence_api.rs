//! Presence against the real binary (issue 4 §3): set by hand with a reason and a return
//! time (stored: it survives a restart), by a working-hours schedule, and from calendar
//! feeds read from a file and over HTTP; an employee who falls ill has their open
//! obligations handed to their backup, who is told by e-mail.

mod common;

use std::path::Path;
use std::time::Duration;

use common::sinks::{HttpSink, SmtpSink};
use common::{Svar, http_request};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

const TOKEN: &str = "presence-token-0123456789";

fn holiday_feed(first: jiff::civil::Date, days: i64) -> String {
    let end = first.checked_add(days.days()).expect("date");
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:ferie-1\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Ferie\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        first.strftime("%Y%m%d"),
        end.strftime("%Y%m%d")
    )
}

fn config(sip: u16, http: u16, dir: &Path, smtp: u16, feed_file: &Path, feed_url: &str, other_day: &str) -> String {
    format!(
        r#"
[server]
sip = "127.0.0.1:{sip}"
http = "127.0.0.1:{http}"
data_dir = "{data}"
drain_grace_s = 1

[sip]
domain = "egeskov.example"

[municipality]
name = "Testkommune"

[api]
token = "{TOKEN}"

[notifications]
smtp = "127.0.0.1:{smtp}"

[[centres]]
id = "teknik"
name = "Teknik og Miljø"

[[departments]]
id = "byggeri"
name = "Byggeri"
mon = "08:00-16:00"
centre = "teknik"

[[teams]]
id = "byggesag"
name = "Byggesag"
department = "byggeri"

[[users]]
extension = "1001"
name = "Anne Andersen"
password = "demo-anne-1001"
team = "byggesag"
backup = "1003"

[[users]]
extension = "1002"
name = "Bo Berg"
password = "demo-bo-1002"
team = "byggesag"
calendar = "{feed}"

[[users]]
extension = "1003"
name = "Cecilie Dahl"
password = "demo-cecilie-1003"
team = "byggesag"
email = "cecilie@egeskov.example"
work_hours = {{ {other_day} = "08:00-09:00" }}

[[users]]
extension = "1004"
name = "Dennis Eriksen"
password = "demo-dennis-1004"
team = "byggesag"
calendar = "{feed_url}"

[[users]]
extension = "1005"
name = "Eva Frost"
password = "demo-eva-1005"
team = "byggesag"
calendar = "http://127.0.0.1:9/nowhere.ics"
"#,
        data = dir.join("data").display(),
        feed = feed_file.display(),
    )
}

fn api(svar: &Svar, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {TOKEN}");
    let (code, text) =
        http_request(svar.http, method, path, &[("Authorization", &auth), ("X-Svar-User", "1002")], body)
            .expect("HTTP answer");
    (code, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

#[test]
fn presence_from_hand_schedule_and_feeds_and_obligations_follow_an_absence() {
    let tz = TimeZone::get("Europe/Copenhagen").expect("tz");
    let today = Timestamp::now().to_zoned_datetime(tz.clone()).date();
    let smtp = SmtpSink::start();
    let feed_dir = std::env::temp_dir().join(format!("svar-feed-{}", std::process::id()));
    std::fs::create_dir_all(&feed_dir).expect("dir");
    let feed_file = feed_dir.join("bo.ics");
    std::fs::write(&feed_file, holiday_feed(today, 2)).expect("feed");
    let feed_http = HttpSink::start_serving(0, &holiday_feed(today, 1));
    // 1003 works one hour on a day that is not today: off duty now, by schedule.
    let other_day =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(today.weekday().to_monday_zero_offset() as usize + 1) % 7];
    let mut svar = Svar::start_custom(|sip, http, dir| {
        config(
            sip,
            http,
            dir,
            smtp.port,
            &feed_file,
            &format!("http://127.0.0.1:{}/dennis.ics", feed_http.port),
            other_day,
        )
    });

    let (code, all) = api(&svar, "GET", "/api/presence", None);
    assert_eq!(code, 200);
    let by: std::collections::HashMap<String, serde_json::Value> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|s| (s["employee"].as_str().expect("employee").to_owned(), s.clone()))
        .collect();
    assert_eq!(by["1001"]["presence"], "available");
    assert_eq!((by["1002"]["presence"].as_str(), by["1002"]["source"].as_str()), (Some("holiday"), Some("calendar")));
    assert_eq!(by["1002"]["reason"], "Ferie");
    let back = calendar::danish::day_and_date(today.checked_add(2.days()).expect("date"));
    assert_eq!(by["1002"]["back"], format!("tilbage {back}"));
    assert_eq!((by["1003"]["presence"].as_str(), by["1003"]["source"].as_str()), (Some("off_duty"), Some("schedule")));
    assert!(by["1003"]["back"].as_str().is_some_and(|b| b.starts_with("tilbage ")), "{}", by["1003"]);
    assert_eq!(by["1004"]["presence"], "holiday", "read over HTTP: {}", by["1004"]);
    assert!(feed_http.requests.lock().expect("lock")[0].0.starts_with("GET /dennis.ics"));
    // A feed that cannot be read is counted and logged; the employee counts as present.
    assert_eq!(by["1005"]["presence"], "available");
    assert!(svar.metric("svar_calendar_feed_failures_total").is_some_and(|n| n >= 1.0), "{}", svar.metrics());
    assert!(svar.log().contains("calendar feed not read"));

    // An obligation of Anne's, then Anne falls ill: it goes to her backup, who is told.
    let (code, o) =
        api(&svar, "POST", "/api/obligations", Some(r#"{"caller": "+4520304060", "owner": "employee:1001"}"#));
    assert_eq!(code, 201, "{o}");
    let id = o["id"].as_u64().expect("id");
    let until = (Timestamp::now() + SignedDuration::from_hours(50)).to_string();
    let body = format!(r#"{{"presence": "ill", "reason": "influenza", "until": "{until}"}}"#);
    let (code, s) = api(&svar, "PUT", "/api/presence/1001", Some(&body));
    assert_eq!(code, 200, "{s}");
    assert_eq!(
        (s["presence"].as_str(), s["reason"].as_str(), s["source"].as_str()),
        (Some("ill"), Some("influenza"), Some("manual"))
    );
    assert!(s["back"].as_str().is_some_and(|b| b.starts_with("tilbage ")));
    let (_, o) = api(&svar, "GET", &format!("/api/obligations/{id}"), None);
    assert_eq!(o["owner"], "employee:1003", "handed to the backup: {o}");
    assert!(o["audit"].as_array().expect("audit").iter().any(|a| a["action"] == "reassigned"));
    let mails = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: cecilie@egeskov.example") && mails[0].contains("givet videre"), "{}", mails[0]);

    // Bad input is refused.
    let (code, _) = api(&svar, "PUT", "/api/presence/1001", Some(r#"{"presence": "sunbathing"}"#));
    assert_eq!(code, 422);
    let (code, _) =
        api(&svar, "PUT", "/api/presence/1001", Some(r#"{"presence": "away", "until": "2001-01-01T00:00:00Z"}"#));
    assert_eq!(code, 422);
    let (code, _) = api(&svar, "PUT", "/api/presence/7777", Some(r#"{"presence": "away"}"#));
    assert_eq!(code, 404);

    // The organisation is stored, centres included; an unchanged configuration adds no version.
    let (_, org) = api(&svar, "GET", "/api/organisation", None);
    assert_eq!(org["version"], 1);
    assert_eq!(org["organisation"]["centres"][0]["id"], "teknik");
    let byggeri = org["organisation"]["departments"]
        .as_array()
        .expect("departments")
        .iter()
        .find(|d| d["id"] == "byggeri")
        .cloned();
    assert_eq!(byggeri.map(|d| d["centre"].clone()), Some(serde_json::json!("teknik")));
    assert_eq!(org["organisation"]["employees"].as_array().map(Vec::len), Some(5));

    // Set by hand is stored: a restart keeps it; clearing it brings the schedule back.
    svar.stop();
    svar.spawn();
    let (_, org) = api(&svar, "GET", "/api/organisation", None);
    assert_eq!(org["version"], 1, "same configuration, same version");
    let (_, s) = api(&svar, "GET", "/api/presence/1001", None);
    assert_eq!((s["presence"].as_str(), s["reason"].as_str()), (Some("ill"), Some("influenza")));
    let (code, s) = api(&svar, "DELETE", "/api/presence/1001", None);
    assert_eq!(code, 200);
    assert_eq!(s["presence"], "available");
    std::fs::remove_dir_all(feed_dir).ok();
}
