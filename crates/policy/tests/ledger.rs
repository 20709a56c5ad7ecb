//! The obligation ledger: scenarios and properties (issue 4 §5).

use jiff::{SignedDuration, Timestamp};
use policy::{Escalation, Ledger, LedgerError, NewObligation, ObligationId, Owner, Source, State};
use proptest::prelude::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_741_341_600 + s).expect("ts") // 2025-03-07T10:00Z
}

fn missed(caller: &str, owner: &str, at: i64) -> NewObligation {
    NewObligation {
        caller: caller.into(),
        owner: Owner::Employee(owner.into()),
        source: Source::NoAnswer,
        topic: None,
        case_ref: None,
        at: t(at),
        deadline: t(at) + SignedDuration::from_hours(96),
    }
}

#[test]
fn a_repeat_call_is_folded_not_doubled() {
    let mut l = Ledger::new();
    let (a, new_a) = l.record(missed("+4512345678", "1002", 0), "svar");
    let (b, new_b) = l.record(missed("+4512345678", "1002", 600), "svar");
    assert!(new_a && !new_b);
    assert_eq!(a, b);
    assert_eq!(l.get(a).expect("o").repeat_calls, 1);
    assert_eq!(l.all().count(), 1);
    // once closed, a new call makes a new obligation
    l.start(a, t(700), "1002").expect("start");
    l.attempt(a, t(800), "1002", true).expect("reached");
    let (c, new_c) = l.record(missed("+4512345678", "1002", 900), "svar");
    assert!(new_c && c != a);
}

#[test]
fn attempts_count_up_until_the_citizen_is_reached() {
    let mut l = Ledger::new();
    let (id, _) = l.record(missed("+4511111111", "1002", 0), "svar");
    l.start(id, t(10), "1002").expect("start");
    l.attempt(id, t(20), "1002", false).expect("no answer");
    assert_eq!(l.get(id).expect("o").state, State::Attempted(1));
    l.start(id, t(30), "1002").expect("again");
    l.attempt(id, t(40), "1002", false).expect("no answer");
    assert_eq!(l.get(id).expect("o").state, State::Attempted(2));
    l.start(id, t(50), "1002").expect("again");
    l.attempt(id, t(60), "1002", true).expect("reached");
    assert_eq!(l.get(id).expect("o").state, State::Completed);
    assert_eq!(l.get(id).expect("o").attempts, 3);
    let actions: Vec<&str> = l.audit().iter().map(|a| a.action).collect();
    assert_eq!(actions, ["created", "started", "attempted", "started", "attempted", "started", "attempted"]);
}

#[test]
fn invalid_transitions_are_refused_and_final_states_stay_final() {
    let mut l = Ledger::new();
    let (id, _) = l.record(missed("+4522222222", "1002", 0), "svar");
    assert!(matches!(l.attempt(id, t(1), "x", true), Err(LedgerError::InvalidTransition { .. })));
    assert!(matches!(l.complete(id, t(1), "x"), Err(LedgerError::InvalidTransition { .. })));
    assert_eq!(l.cancel(id, t(2), "x", "  "), Err(LedgerError::NoReason));
    l.cancel(id, t(3), "x", "borgeren ringede selv igen og fik svar").expect("cancel");
    assert!(l.start(id, t(4), "x").is_err());
    assert!(l.reassign(id, Owner::Team("t".into()), t(5), "x").is_err());
    assert_eq!(l.start(ObligationId(999), t(5), "x"), Err(LedgerError::NotFound(ObligationId(999))));
}

#[test]
fn an_absent_owner_hands_over_to_the_backup_or_the_team() {
    let mut l = Ledger::new();
    let (a, _) = l.record(missed("+4533333333", "1002", 0), "svar");
    let (b, _) = l.record(missed("+4544444444", "1002", 0), "svar");
    let moved = l.owner_absent("1002", Some("1003"), "borgerservice", t(100));
    assert_eq!(moved, vec![a, b]);
    assert_eq!(l.open_for(&Owner::Employee("1003".into())).len(), 2);
    let moved = l.owner_absent("1003", None, "borgerservice", t(200));
    assert_eq!(moved.len(), 2);
    assert_eq!(l.open_for(&Owner::Team("borgerservice".into())).len(), 2);
    assert!(l.audit().iter().filter(|e| e.action == "reassigned").all(|e| e.by == "svar"));
}

#[test]
fn escalation_at_75_percent_and_at_breach() {
    let mut l = Ledger::new();
    let (id, _) = l.record(missed("+4555555555", "1002", 0), "svar"); // window 96 h
    assert!(l.escalate(t(71 * 3600)).is_empty());
    assert_eq!(l.escalate(t(72 * 3600)), vec![(id, Escalation::TeamLead)]);
    assert!(l.escalate(t(80 * 3600)).is_empty(), "no repeated escalation");
    assert_eq!(l.escalate(t(96 * 3600)), vec![(id, Escalation::Supervisor)]);
    // closed obligations do not escalate
    let (done, _) = l.record(missed("+4566666666", "1002", 0), "svar");
    l.cancel(done, t(10), "x", "wrong number").expect("cancel");
    assert!(l.escalate(t(200 * 3600)).iter().all(|(i, _)| *i != done));
}

#[test]
fn most_urgent_first() {
    let mut l = Ledger::new();
    let mut late = missed("+4577777777", "1002", 0);
    late.deadline = t(10_000);
    let mut soon = missed("+4588888888", "1002", 0);
    soon.deadline = t(5_000);
    let (a, _) = l.record(late, "svar");
    let (b, _) = l.record(soon, "svar");
    let open: Vec<ObligationId> = l.open_for(&Owner::Employee("1002".into())).iter().map(|o| o.id).collect();
    assert_eq!(open, vec![b, a]);
}

#[derive(Debug, Clone)]
enum Cmd {
    Record(u8, u8),
    Start(u8),
    Attempt(u8, bool),
    Complete(u8),
    Cancel(u8),
    Absent(u8, bool),
    Tick(u16),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        (0u8..6, 0u8..3).prop_map(|(c, o)| Cmd::Record(c, o)),
        (0u8..10).prop_map(Cmd::Start),
        (0u8..10, any::<bool>()).prop_map(|(i, r)| Cmd::Attempt(i, r)),
        (0u8..10).prop_map(Cmd::Complete),
        (0u8..10).prop_map(Cmd::Cancel),
        (0u8..3, any::<bool>()).prop_map(|(o, b)| Cmd::Absent(o, b)),
        (0u16..200).prop_map(Cmd::Tick),
    ]
}

fn allowed(from: &str, action: &str, to: &str) -> bool {
    matches!(
        (from, action, to),
        ("none", "created", "open")
            | ("open" | "attempted", "started", "in_progress")
            | ("in_progress", "attempted", "attempted" | "completed")
            | ("in_progress" | "attempted", "completed", "completed")
            | ("open" | "in_progress" | "attempted", "cancelled", "cancelled")
    ) || (matches!(action, "folded" | "reassigned" | "escalated")
        && from == to
        && from != "completed"
        && from != "cancelled")
}

proptest! {
    #[test]
    fn nothing_is_lost_or_doubled_and_states_follow_the_machine(cmds in proptest::collection::vec(cmd(), 1..120)) {
        let mut l = Ledger::new();
        let mut now = 0i64;
        let mut calls = 0u32;
        for c in cmds {
            now += 60;
            match c {
                Cmd::Record(caller, owner) => {
                    calls += 1;
                    l.record(missed(&format!("+45000000{caller:02}"), &format!("10{owner:02}"), now), "svar");
                }
                Cmd::Start(i) => { let _ = l.start(ObligationId(u64::from(i)), t(now), "u"); }
                Cmd::Attempt(i, r) => { let _ = l.attempt(ObligationId(u64::from(i)), t(now), "u", r); }
                Cmd::Complete(i) => { let _ = l.complete(ObligationId(u64::from(i)), t(now), "u"); }
                Cmd::Cancel(i) => { let _ = l.cancel(ObligationId(u64::from(i)), t(now), "u", "reason"); }
                Cmd::Absent(o, b) => { l.owner_absent(&format!("10{o:02}"), b.then_some("1099"), "team", t(now)); }
                Cmd::Tick(h) => { now += i64::from(h) * 3600; l.escalate(t(now)); }
            }
        }
        // every call is accounted for: a creation or a fold, never both, never neither
        let created = l.audit().iter().filter(|a| a.action == "created").count() as u32;
        let folded: u32 = l.all().map(|o| o.repeat_calls).sum();
        prop_assert_eq!(created + folded, calls);
        prop_assert_eq!(created as usize, l.all().count());
        // at most one open obligation per number
        let mut open: Vec<&str> = l.all().filter(|o| !o.state.is_final()).map(|o| o.caller.as_str()).collect();
        let n = open.len();
        open.sort_unstable();
        open.dedup();
        prop_assert_eq!(open.len(), n);
        // every transition is on the machine, and nothing happens after a final state
        let mut finished = std::collections::HashSet::new();
        for a in l.audit() {
            prop_assert!(allowed(a.from, a.action, a.to), "{:?}", a);
            prop_assert!(!finished.contains(&a.id), "{:?} after a final state", a);
            if a.to == "completed" || a.to == "cancelled" {
                finished.insert(a.id);
            }
        }
        // every escalation to the supervisor is in the audit trail
        for o in l.all() {
            if o.escalation == Escalation::Supervisor {
                prop_assert!(l.audit().iter().any(|a| a.id == o.id && a.detail == "Supervisor"));
            }
        }
    }
}
