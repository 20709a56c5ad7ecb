//! One story, run against every backend (SQLite always, PostgreSQL when a server is
//! there): what svar stores comes back as it was written.

use jiff::{SignedDuration, Timestamp};
use pbx::record::{CallRecord, Direction, Outcome, Party};
use policy::notify::{Channel, Outbox, RetryPolicy};
use policy::org::Presence;
use policy::presence::ManualPresence;
use policy::{Ledger, NewObligation, Owner, Source, State};
use sip::Peer;
use sip::registrar::{Binding, BindingChange};

use crate::{ObligationStore, OrganisationStore, PresenceStore, Store};

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_owned()) }
}

fn binding(expires_at: i64, cseq: u32) -> Result<Binding, String> {
    Ok(Binding {
        aor: "1001".into(),
        contact: "sip:1001@192.0.2.7:5062;transport=udp".parse().map_err(|e| format!("{e}"))?,
        params: sip_msg::text::parse_params("q=0.5;+sip.instance=\"<urn:uuid:1>\"").ok_or("params")?,
        q: 0.5,
        expires_at,
        call_id: "reg1".into(),
        cseq,
        source: Peer::udp("192.0.2.7:5062".parse().map_err(|e| format!("{e}"))?),
        user_agent: Some("baresip".into()),
    })
}

/// Run the story on an empty store. `Err` says which step failed.
pub async fn run<S: Store + ObligationStore + PresenceStore + OrganisationStore>(s: &S) -> Result<(), String> {
    // registrar bindings: upsert, update, remove
    let b = binding(5000, 7)?;
    s.apply_bindings(&[BindingChange::upsert(b.clone())]).await.map_err(|e| e.to_string())?;
    s.apply_bindings(&[BindingChange::upsert(binding(6000, 8)?)]).await.map_err(|e| e.to_string())?;
    let loaded = s.load_bindings().await.map_err(|e| e.to_string())?;
    check(loaded == vec![binding(6000, 8)?], "binding updated in place")?;
    s.apply_bindings(&[BindingChange::Remove { aor: "1001".into(), key: b.key().to_owned() }])
        .await
        .map_err(|e| e.to_string())?;
    check(s.load_bindings().await.map_err(|e| e.to_string())?.is_empty(), "binding removed")?;

    // call records: newest first
    let rec = CallRecord {
        call_id: "c1".into(),
        direction: Direction::Inbound,
        caller: "+4512345678".into(),
        callee: "1002".into(),
        trunk: Some("udbyder".into()),
        started_ms: 1,
        answered_ms: Some(2),
        ended_ms: 3,
        outcome: Outcome::Answered,
        status: 200,
        hangup_by: Some(Party::Callee),
        flow: Some("+0 entered hoved\n+4200 chose 1\n+4200 routed user:1002".into()),
    };
    let busy = CallRecord {
        call_id: "c2".into(),
        outcome: Outcome::Busy,
        status: 486,
        answered_ms: None,
        hangup_by: None,
        flow: None,
        ..rec.clone()
    };
    s.insert_call_records(&[rec.clone(), busy.clone()]).await.map_err(|e| e.to_string())?;
    let recs = s.recent_call_records(10).await.map_err(|e| e.to_string())?;
    check(recs == vec![busy, rec], "call records back, newest first")?;

    // obligations: written with their audit, read back most urgent first
    let t0 = Timestamp::from_second(1_741_341_600).map_err(|e| e.to_string())?;
    let mut ledger = Ledger::new();
    let new = |caller: &str, hours: i64| NewObligation {
        caller: caller.into(),
        owner: Owner::Employee("1002".into()),
        source: Source::Busy,
        topic: Some("byggetilladelse".into()),
        case_ref: None,
        at: t0,
        deadline: t0 + SignedDuration::from_hours(hours),
    };
    let (a, _) = ledger.record(new("+4511111111", 96), "svar");
    let (b, _) = ledger.record(new("+4522222222", 48), "svar");
    let (c, _) = ledger.record(new("+4533333333", 24), "svar");
    ledger.record(new("+4511111111", 96), "svar"); // folded into a
    ledger.start(a, t0, "1002").map_err(|e| e.to_string())?;
    ledger.attempt(a, t0, "1002", false).map_err(|e| e.to_string())?;
    ledger.cancel(c, t0, "1002", "borgeren fik svar i borgerservice").map_err(|e| e.to_string())?;
    let all: Vec<_> = ledger.all().cloned().collect();
    let audit = ledger.drain_audit();
    // notifications go in the same transaction, and are updated in place later
    let mut outbox = Outbox::new(RetryPolicy::default());
    let mail = outbox.enqueue(a, Channel::Email { to: "bo@egeskov.example".into() }, "s".into(), "b".into(), t0);
    outbox.enqueue(b, Channel::Sms { to: "+4522222222".into() }, String::new(), "kvittering".into(), t0);
    s.save_obligations(&all, &audit, &outbox.drain_changed()).await.map_err(|e| e.to_string())?;
    outbox.due(t0);
    outbox.attempt_failed(mail, "smtp: 451 try later".into(), t0);
    s.save_obligations(&[], &[], &outbox.drain_changed()).await.map_err(|e| e.to_string())?;
    let stored = s.load_notifications().await.map_err(|e| e.to_string())?;
    check(stored.len() == 2, "both notifications stored")?;
    check(
        stored
            .iter()
            .any(|n| n.id == mail && n.attempts == 1 && n.last_error.as_deref() == Some("smtp: 451 try later")),
        "a failed attempt updates the row",
    )?;
    check(stored.iter().any(|n| n.channel == Channel::Sms { to: "+4522222222".into() }), "channel kept")?;
    let mut back = s.load_obligations().await.map_err(|e| e.to_string())?;
    back.sort_by_key(|o| o.id);
    check(back == all, "obligations back as written")?;
    let open = s.open_obligations_for(&Owner::Employee("1002".into()), 10).await.map_err(|e| e.to_string())?;
    check(
        open.iter().map(|o| o.id).collect::<Vec<_>>() == vec![b, a],
        "open ones, most urgent first, cancelled left out",
    )?;
    check(
        back.iter().any(|o| o.id == a && o.state == State::Attempted(1) && o.repeat_calls == 1),
        "state and folds kept",
    )?;
    let trail = s.audit_of(a).await.map_err(|e| e.to_string())?;
    let actions: Vec<&str> = trail.iter().map(|e| e.action).collect();
    check(actions == ["created", "folded", "started", "attempted"], "audit trail in order")?;
    // a restarted ledger continues the ids
    let mut again = Ledger::restore(back);
    let (d, new_d) = again.record(new("+4544444444", 24), "svar");
    check(new_d && d.0 == c.0 + 1, "ids continue after a restart")?;
    let (e, new_e) = again.record(new("+4522222222", 24), "svar");
    check(!new_e && e == b, "a repeat call after a restart folds into the stored obligation")?;

    // presence set by hand: stored, replaced, cleared
    let ill = ManualPresence {
        employee: "1001".into(),
        presence: Presence::Ill { until: Some(t0 + SignedDuration::from_hours(48)) },
        reason: Some("influenza".into()),
        until: Some(t0 + SignedDuration::from_hours(48)),
        set_by: "1000".into(),
        set_at: t0,
    };
    s.save_presence(&ill).await.map_err(|e| e.to_string())?;
    let away = ManualPresence {
        employee: "1002".into(),
        presence: Presence::Away { until: None },
        reason: None,
        until: None,
        ..ill.clone()
    };
    s.save_presence(&away).await.map_err(|e| e.to_string())?;
    let back = s.load_presence().await.map_err(|e| e.to_string())?;
    check(back == vec![ill.clone(), away.clone()], "presence back as written")?;
    s.save_presence(&ManualPresence { reason: Some("kursus".into()), ..away.clone() })
        .await
        .map_err(|e| e.to_string())?;
    s.clear_presence("1001").await.map_err(|e| e.to_string())?;
    let back = s.load_presence().await.map_err(|e| e.to_string())?;
    check(back.len() == 1 && back[0].reason.as_deref() == Some("kursus"), "replaced and cleared")?;

    // the organisation: versions kept, the latest comes back whole
    use policy::org::{Centre, Coverage, Employee, OrgDepartment, Organisation, RingMode, Team};
    check(s.latest_organisation().await.map_err(|e| e.to_string())?.is_none(), "no organisation at first")?;
    let mut org = Organisation {
        centres: vec![Centre { id: "borger".into(), name: "Borger og Arbejdsmarked".into() }],
        departments: vec![OrgDepartment {
            id: "byggeri".into(),
            name: "Byggeri".into(),
            centre: Some("borger".into()),
        }],
        employees: vec![Employee {
            extension: "1001".into(),
            name: "Anne Andersen".into(),
            team: "byggesag".into(),
            backup: Some("1002".into()),
            coverage: Coverage::default(),
            skills: vec![("byggetilladelse".into(), 5)],
            languages: vec!["da".into()],
            direct_number: Some("+4570102001".into()),
        }],
        teams: vec![Team {
            id: "byggesag".into(),
            name: "Byggesag".into(),
            department: "byggeri".into(),
            lead: Some("1001".into()),
            mode: RingMode::InTurn,
        }],
        switchboard: "omstillingen".into(),
    };
    let v1 = s.save_organisation(&org, "config", t0).await.map_err(|e| e.to_string())?;
    org.employees[0].backup = None;
    let v2 = s.save_organisation(&org, "1000", t0).await.map_err(|e| e.to_string())?;
    let latest = s.latest_organisation().await.map_err(|e| e.to_string())?.ok_or("a version")?;
    check(v1 == 1 && v2 == 2 && latest.version == 2, "versions count up")?;
    check(latest.organisation == org && latest.source == "1000" && latest.at == t0, "the latest comes back whole")?;
    Ok(())
}
