//! One behaviour per test, driven through the public engine face.

mod common;

use acd::{
    AcdConfig, AcdError, AgentConfig, AgentStatus, Arrival, ContactId, Event, Exit, ExitReason, ExitTarget, Input,
    PauseReason, Preferred, QueueConfig, SkillNeed, Strategy, Widening, WithdrawReason,
};
use common::{Rig, agent, secs};

const C1: ContactId = ContactId(1);
const C2: ContactId = ContactId(2);
const C3: ContactId = ContactId(3);

fn queue(name: &str) -> QueueConfig {
    QueueConfig::new(name)
}

fn one_queue(agents: &[&str]) -> Rig {
    Rig::new(vec![queue("bs")], agents.iter().map(|a| agent(a, &["bs"])).collect())
}

fn arrive(rig: &mut Rig, contact: ContactId) {
    let q = rig.q("bs");
    rig.input(Input::Arrive(Arrival::new(contact, q)));
}

#[test]
fn offers_go_to_the_longest_idle_agent() {
    let mut rig = one_queue(&["anna", "bo", "carl"]);
    let (anna, bo, carl) = (rig.a("anna"), rig.a("bo"), rig.a("carl"));
    rig.input(Input::Login(bo));
    rig.advance_to(10);
    rig.input(Input::Login(carl));
    rig.advance_to(20);
    rig.input(Input::Login(anna));
    rig.take();
    arrive(&mut rig, C1);
    arrive(&mut rig, C2);
    assert_eq!(Rig::offers(&rig.take()), vec![(C1, bo), (C2, carl)]);
}

#[test]
fn accepting_connects_the_caller_and_records_the_wait() {
    let mut rig = one_queue(&["anna"]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    rig.input(Input::Pause(anna, PauseReason::Break));
    arrive(&mut rig, C1);
    rig.advance_to(42);
    rig.input(Input::Resume(anna));
    rig.take();
    rig.input(Input::Accept(anna, C1));
    let events = rig.take();
    assert!(events.contains(&Event::Answered { contact: C1, agent: anna, queue: rig.q("bs"), waited: secs(42) }));
    assert_eq!(rig.acd.agent_status(anna), AgentStatus::OnCall(C1));
    let stats = rig.acd.stats(rig.q("bs"));
    assert_eq!((stats.offered, stats.answered, stats.answered_wait_micros), (1, 1, 42_000_000));
}

#[test]
fn ring_all_offers_everyone_and_the_first_to_accept_wins() {
    let mut q = queue("bs");
    q.strategy = Strategy::RingAll;
    let mut rig = Rig::new(vec![q], vec![agent("anna", &["bs"]), agent("bo", &["bs"]), agent("carl", &["bs"])]);
    rig.login_all();
    rig.take();
    arrive(&mut rig, C1);
    assert_eq!(Rig::offers(&rig.take()).len(), 3);
    let bo = rig.a("bo");
    rig.input(Input::Accept(bo, C1));
    let events = rig.take();
    let withdrawn: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::OfferWithdrawn { reason: WithdrawReason::TakenByOther, .. }))
        .collect();
    assert_eq!(withdrawn.len(), 2);
    assert_eq!(rig.acd.agent_status(rig.a("anna")), AgentStatus::Available);
    assert_eq!(rig.acd.missed_offers(rig.a("anna")), 0, "losing a ring-all race is not a miss");
}

fn skilled(name: &str, level: u8) -> AgentConfig {
    AgentConfig { name: name.into(), queues: vec!["bs".into()], skills: vec![("pension".into(), level)] }
}

#[test]
fn skills_strategy_prefers_the_highest_level() {
    let mut q = queue("bs");
    q.strategy = Strategy::Skills;
    let mut rig = Rig::new(vec![q], vec![skilled("low", 2), skilled("high", 7), skilled("mid", 5)]);
    rig.login_all();
    rig.take();
    let skill = rig.acd.skill_id("pension").expect("skill");
    let mut arrival = Arrival::new(C1, rig.q("bs"));
    arrival.skill = Some(SkillNeed { skill, level: 3 });
    rig.input(Input::Arrive(arrival));
    assert_eq!(Rig::offers(&rig.take()), vec![(C1, rig.a("high"))]);
}

#[test]
fn skill_requirement_widens_with_waiting() {
    let mut q = queue("bs");
    q.strategy = Strategy::Skills;
    q.skill_widening = vec![Widening { after: secs(30), min_level: 4 }, Widening { after: secs(90), min_level: 0 }];
    let novice = AgentConfig { name: "novice".into(), queues: vec!["bs".into()], skills: vec![] };
    let mut rig = Rig::new(vec![q], vec![skilled("mid", 5), novice]);
    rig.login_all();
    rig.take();
    let skill = rig.acd.skill_id("pension").expect("skill");
    let mut arrival = Arrival::new(C1, rig.q("bs"));
    arrival.skill = Some(SkillNeed { skill, level: 8 });
    rig.input(Input::Arrive(arrival));
    assert!(Rig::offers(&rig.take()).is_empty(), "nobody has level 8");
    rig.advance_to(29);
    assert!(Rig::offers(&rig.take()).is_empty());
    rig.advance_to(30);
    assert_eq!(Rig::offers(&rig.take()), vec![(C1, rig.a("mid"))], "level 5 suffices after 30 s");
}

#[test]
fn skill_requirement_widens_to_anyone_in_the_end() {
    let mut q = queue("bs");
    q.skill_widening = vec![Widening { after: secs(90), min_level: 0 }];
    let novice = AgentConfig { name: "novice".into(), queues: vec!["bs".into()], skills: vec![] };
    let mut rig = Rig::new(vec![q], vec![skilled("mid", 5), novice]);
    let novice = rig.a("novice");
    rig.input(Input::Login(novice));
    let skill = rig.acd.skill_id("pension").expect("skill");
    let mut arrival = Arrival::new(C1, rig.q("bs"));
    arrival.skill = Some(SkillNeed { skill, level: 3 });
    rig.input(Input::Arrive(arrival));
    rig.advance_to(89);
    assert!(Rig::offers(&rig.take()).is_empty());
    rig.advance_to(90);
    assert_eq!(Rig::offers(&rig.take()), vec![(C1, novice)]);
}

#[test]
fn callback_keeps_original_position() {
    let mut rig = one_queue(&["anna"]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    rig.input(Input::Pause(anna, PauseReason::Meeting));
    arrive(&mut rig, C1);
    rig.advance_to(5);
    arrive(&mut rig, C2);
    rig.advance_to(10);
    rig.input(Input::RequestCallback(C1));
    rig.advance_to(15);
    arrive(&mut rig, C3);
    let events = rig.take();
    // C3's announcement counts the callback ahead of it.
    assert!(events.contains(&Event::Position { contact: C3, position: 3, estimated_wait: secs(540) }));
    rig.input(Input::Resume(anna));
    let events = rig.take();
    assert!(events.contains(&Event::Offer { contact: C1, agent: anna, callback: true }), "{events:?}");
    rig.input(Input::Accept(anna, C1));
    let events = rig.take();
    assert!(events.contains(&Event::CalledBack { contact: C1, agent: anna, queue: rig.q("bs"), waited: secs(15) }));
}

#[test]
fn callback_is_never_offered_ahead_of_earlier_live_callers() {
    let mut rig = one_queue(&["anna"]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    rig.input(Input::Pause(anna, PauseReason::Break));
    arrive(&mut rig, C1);
    arrive(&mut rig, C2);
    rig.input(Input::RequestCallback(C2));
    rig.input(Input::Resume(anna));
    assert_eq!(Rig::offers(&rig.take()), vec![(C1, anna)], "the live caller who came first goes first");
}

#[test]
fn callback_requested_while_ringing_releases_the_agent_and_comes_back_as_callback() {
    let mut rig = one_queue(&["anna"]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    arrive(&mut rig, C1);
    rig.take();
    rig.input(Input::RequestCallback(C1));
    let events = rig.take();
    assert!(events.contains(&Event::OfferWithdrawn { contact: C1, agent: anna, reason: WithdrawReason::CallerLeft }));
    assert!(events.contains(&Event::Offer { contact: C1, agent: anna, callback: true }));
    assert_eq!(rig.acd.missed_offers(anna), 0);
}

#[test]
fn missed_offer_makes_agent_not_ready() {
    let mut q = queue("bs");
    q.missed_offers_limit = 2;
    q.offer_timeout = secs(15);
    let mut rig = Rig::new(vec![q], vec![agent("anna", &["bs"])]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    arrive(&mut rig, C1);
    rig.advance_to(15);
    let events = rig.take();
    assert!(events.contains(&Event::OfferWithdrawn { contact: C1, agent: anna, reason: WithdrawReason::Timeout }));
    // The same caller is offered again (anna is the only agent) and missed again.
    assert_eq!(Rig::offers(&events), vec![(C1, anna), (C1, anna)]);
    rig.advance_to(30);
    let status = AgentStatus::Paused(PauseReason::MissedOffers { missed: 2 });
    assert_eq!(rig.acd.agent_status(anna), status);
    assert!(rig.take().contains(&Event::AgentState { agent: anna, status }), "the supervisor sees why");
    assert!(rig.acd.is_waiting(C1), "the caller keeps waiting");
}

#[test]
fn declined_offer_goes_to_the_next_agent() {
    let mut rig = one_queue(&["anna", "bo"]);
    let (anna, bo) = (rig.a("anna"), rig.a("bo"));
    rig.login_all();
    arrive(&mut rig, C1);
    rig.take();
    rig.input(Input::Decline(anna, C1));
    assert_eq!(Rig::offers(&rig.take()), vec![(C1, bo)]);
    assert_eq!(rig.acd.missed_offers(anna), 1);
}

#[test]
fn no_agents_exits_to_switchboard() {
    let mut rig = one_queue(&["anna"]);
    arrive(&mut rig, C1);
    let q = rig.q("bs");
    assert!(rig.take().contains(&Event::Exited {
        contact: C1,
        queue: q,
        reason: ExitReason::NoAgents,
        target: Exit::Switchboard,
        waited: secs(0)
    }));
    let stats = rig.acd.stats(q);
    assert_eq!((stats.offered, stats.exited), (1, 1));
}

#[test]
fn last_agent_logging_out_sends_waiting_callers_to_the_no_agents_exit_but_keeps_callbacks() {
    let mut q = queue("bs");
    q.exit_no_agents = ExitTarget::Message;
    let mut rig = Rig::new(vec![q], vec![agent("anna", &["bs"])]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    rig.input(Input::Pause(anna, PauseReason::Lunch));
    arrive(&mut rig, C1);
    arrive(&mut rig, C2);
    rig.input(Input::RequestCallback(C2));
    rig.advance_to(7);
    rig.input(Input::Logout(anna));
    let events = rig.take();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Exited { contact: C1, reason: ExitReason::NoAgents, target: Exit::Message, .. }
        ))
    );
    assert!(rig.acd.is_waiting(C2), "a callback is an obligation; it waits for the next agent");
}

#[test]
fn full_queue_exits_to_the_configured_queue() {
    let mut bs = queue("bs");
    bs.max_length = Some(1);
    bs.exit_full = ExitTarget::Queue("omstilling".into());
    let mut rig = Rig::new(vec![bs, queue("omstilling")], vec![agent("anna", &["bs", "omstilling"])]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    rig.input(Input::Pause(anna, PauseReason::OtherWork));
    arrive(&mut rig, C1);
    arrive(&mut rig, C2);
    let omstilling = rig.q("omstilling");
    assert!(rig.take().iter().any(|e| matches!(
        e,
        Event::Exited { contact: C2, reason: ExitReason::QueueFull, target: Exit::Queue(q), .. } if *q == omstilling
    )));
}

#[test]
fn max_wait_exits_and_releases_a_ringing_agent() {
    let mut q = queue("bs");
    q.max_wait = Some(secs(120));
    q.offer_timeout = secs(30);
    q.missed_offers_limit = 100;
    let mut rig = Rig::new(vec![q], vec![agent("anna", &["bs"])]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    arrive(&mut rig, C1);
    rig.advance_to(119);
    assert!(rig.acd.is_waiting(C1));
    rig.advance_to(120);
    let events = rig.take();
    assert!(events.iter().any(|e| matches!(e, Event::Exited { contact: C1, reason: ExitReason::MaxWait, .. })));
    assert!(!rig.acd.is_waiting(C1));
    assert_eq!(rig.acd.agent_status(anna), AgentStatus::Available);
}

#[test]
fn wrap_up_delays_the_next_offer() {
    let mut q = queue("bs");
    q.wrap_up = secs(30);
    let mut rig = Rig::new(vec![q], vec![agent("anna", &["bs"])]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    arrive(&mut rig, C1);
    rig.input(Input::Accept(anna, C1));
    arrive(&mut rig, C2);
    rig.advance_to(100);
    rig.take();
    rig.input(Input::Hangup(anna));
    assert_eq!(rig.acd.agent_status(anna), AgentStatus::WrapUp);
    rig.advance_to(129);
    assert!(Rig::offers(&rig.take()).is_empty());
    rig.advance_to(130);
    assert_eq!(Rig::offers(&rig.take()), vec![(C2, anna)]);
}

#[test]
fn pause_during_a_call_takes_effect_when_it_ends() {
    let mut rig = one_queue(&["anna"]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    arrive(&mut rig, C1);
    rig.input(Input::Accept(anna, C1));
    rig.input(Input::Pause(anna, PauseReason::Lunch));
    assert_eq!(rig.acd.agent_status(anna), AgentStatus::OnCall(C1));
    rig.input(Input::Hangup(anna));
    assert_eq!(rig.acd.agent_status(anna), AgentStatus::Paused(PauseReason::Lunch));
}

#[test]
fn preferred_agent_gets_the_call_then_the_queue_after_the_fallback_time() {
    let mut rig = one_queue(&["anna", "bo"]);
    let (anna, bo) = (rig.a("anna"), rig.a("bo"));
    rig.login_all();
    rig.take();
    // bo knows the case but is on another call.
    arrive(&mut rig, C3);
    rig.input(Input::Accept(anna, C3));
    rig.take();
    let mut arrival = Arrival::new(C1, rig.q("bs"));
    arrival.preferred = Some(Preferred { agent: anna, wait: secs(45) });
    rig.input(Input::Arrive(arrival));
    assert!(Rig::offers(&rig.take()).is_empty(), "bo is free but the caller is held for anna");
    rig.advance_to(45);
    let events = rig.take();
    assert!(events.contains(&Event::PreferredExpired { contact: C1, agent: anna }));
    assert_eq!(Rig::offers(&events), vec![(C1, bo)]);
}

#[test]
fn preferred_agent_who_is_logged_out_does_not_hold_the_caller() {
    let mut rig = one_queue(&["anna", "bo"]);
    let bo = rig.a("bo");
    rig.input(Input::Login(bo));
    let mut arrival = Arrival::new(C1, rig.q("bs"));
    arrival.preferred = Some(Preferred { agent: rig.a("anna"), wait: secs(60) });
    rig.input(Input::Arrive(arrival));
    assert_eq!(Rig::offers(&rig.take()), vec![(C1, bo)]);
}

#[test]
fn position_announcements_count_down_as_callers_are_served() {
    let mut q = queue("bs");
    q.announce_every = Some(secs(30));
    q.expected_handle_time = secs(120);
    let mut rig = Rig::new(vec![q], vec![agent("anna", &["bs"])]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    arrive(&mut rig, C1);
    rig.input(Input::Accept(anna, C1));
    arrive(&mut rig, C2);
    arrive(&mut rig, C3);
    let events = rig.take();
    assert!(events.contains(&Event::Position { contact: C3, position: 2, estimated_wait: secs(240) }));
    rig.advance_to(20);
    rig.input(Input::Hangup(anna));
    rig.input(Input::Accept(anna, C2));
    rig.take();
    rig.advance_to(30);
    let events = rig.take();
    let c3: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Position { contact: C3, position, .. } => Some(*position),
            _ => None,
        })
        .collect();
    assert_eq!(c3, vec![1]);
}

#[test]
fn abandon_under_five_seconds_is_short() {
    let mut rig = one_queue(&["anna"]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    rig.input(Input::Pause(anna, PauseReason::Break));
    arrive(&mut rig, C1);
    arrive(&mut rig, C2);
    rig.advance_to(4);
    rig.input(Input::Abandon(C1));
    rig.advance_to(5);
    rig.input(Input::Abandon(C2));
    let shorts: Vec<bool> = rig
        .take()
        .iter()
        .filter_map(|e| match e {
            Event::Abandoned { short, .. } => Some(*short),
            _ => None,
        })
        .collect();
    assert_eq!(shorts, vec![true, false]);
    let stats = rig.acd.stats(rig.q("bs"));
    assert_eq!((stats.abandoned, stats.short_abandoned), (2, 1));
    assert!(stats.adds_up());
}

#[test]
fn higher_priority_callers_are_served_first_across_queues() {
    let mut vip = queue("vip");
    vip.priority = 5;
    let mut rig = Rig::new(vec![queue("bs"), vip], vec![agent("anna", &["bs", "vip"])]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    rig.input(Input::Pause(anna, PauseReason::Break));
    arrive(&mut rig, C1);
    let vip = rig.q("vip");
    rig.input(Input::Arrive(Arrival::new(C2, vip)));
    rig.input(Input::Resume(anna));
    assert_eq!(Rig::offers(&rig.take()), vec![(C2, anna)]);
}

#[test]
fn refused_inputs_change_nothing() {
    let mut rig = one_queue(&["anna"]);
    let anna = rig.a("anna");
    rig.input(Input::Login(anna));
    arrive(&mut rig, C1);
    rig.take();
    let now = rig.now;
    assert_eq!(
        rig.acd.handle_input(now, Input::Accept(anna, C2)),
        Err(AcdError::NotOffered { agent: anna, contact: C2 })
    );
    assert_eq!(
        rig.acd.handle_input(now, Input::Arrive(Arrival::new(C1, rig.q("bs")))),
        Err(AcdError::DuplicateContact(C1))
    );
    assert_eq!(rig.acd.handle_input(now, Input::Abandon(C3)), Err(AcdError::NotWaiting(C3)));
    assert!(matches!(rig.acd.handle_input(now, Input::Login(anna)), Err(AcdError::AgentState { .. })));
    assert!(rig.acd.poll_event().is_none());
    assert_eq!(rig.acd.agent_status(anna), AgentStatus::Offered(C1));
    assert_eq!(rig.acd.stats(rig.q("bs")).offered, 1);
}

#[test]
fn configuration_problems_are_all_listed() {
    let mut a = queue("a");
    a.exit_no_agents = ExitTarget::Queue("b".into());
    let mut b = queue("b");
    b.exit_no_agents = ExitTarget::Queue("a".into());
    b.max_wait = None;
    b.exit_full = ExitTarget::Queue("nowhere".into());
    let config = AcdConfig { queues: vec![a, b, queue("a")], agents: vec![agent("x", &["c"])] };
    let err = acd::Acd::new(&config).expect_err("invalid");
    let text = err.to_string();
    for expected in ["defined twice", "unknown queue \"c\"", "unknown queue \"nowhere\"", "form a loop"] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}
