//! The IVR walked by callers: keys, silence, barge-in, information, closed departments,
//! language; and configurations refused with every problem listed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use ivr::{Facts, Input, IvrConfig, MenuId, Output, RawMenu, Runner, Step, Target};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    menus: Vec<RawMenu>,
}

/// The demo municipality's main menu (DOMAIN.md §6), shortened.
const DEMO: &str = r#"
[[menus]]
id = "hoved"
prompt = ["velkommen", "hovedmenu"]
timeout_s = 5
retries = 2
invalid = ["ugyldigt-valg"]
fallback = "operator"
options = { "1" = "menu:borgerservice", "2" = "queue:job", "4" = "info:udbetaling-danmark then menu:hoved", "8" = "language:en:main", "9" = "operator" }

[[menus]]
id = "borgerservice"
prompt = ["borgerservice-menu"]
open = { department = "borgerservice", closed = "record:department:borgerservice" }
options = { "1" = "queue:pas", "2" = "queue:flytning", "0" = "menu:hoved", "9" = "operator" }

[[menus]]
id = "main"
prompt = ["welcome", "main-menu"]
options = { "1" = "queue:borgerservice", "9" = "operator" }
"#;

fn config(text: &str) -> Result<IvrConfig, ivr::MenuError> {
    let file: File = toml::from_str(text).expect("TOML");
    IvrConfig::from_raw(&file.menus)
}

struct Call {
    runner: Runner,
    now: Instant,
    out: Vec<Output>,
}

impl Call {
    fn new(closed: &[&str]) -> Self {
        let cfg = Arc::new(config(DEMO).expect("valid"));
        let facts = Facts { closed: closed.iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>() };
        let now = Instant::now();
        let mut c = Self { runner: Runner::start(cfg, facts, "da", now), now, out: Vec::new() };
        c.drain();
        c
    }

    fn drain(&mut self) {
        while let Some(o) = self.runner.poll_output() {
            self.out.push(o);
        }
    }

    fn input(&mut self, i: Input) {
        self.runner.handle_input(self.now, i);
        self.drain();
    }

    /// Let the prompt finish, then wait out the timeout.
    fn silence(&mut self) {
        self.input(Input::PromptDone);
        self.now = self.runner.poll_timeout().expect("waiting for a key");
        self.input(Input::Timeout);
    }

    fn last(&self) -> Option<&Output> {
        self.out.last()
    }

    fn steps(&self) -> Vec<Step> {
        self.runner.trace().iter().map(|t| t.step.clone()).collect()
    }
}

fn plays(names: &[&str]) -> Output {
    Output::Play {
        prompt: ivr::Prompt(names.iter().map(|s| (*s).to_owned()).collect()),
        lang: "da".into(),
        barge_in: true,
    }
}

#[test]
fn a_key_in_two_menus_reaches_the_queue() {
    let mut c = Call::new(&[]);
    assert_eq!(c.last(), Some(&plays(&["velkommen", "hovedmenu"])));
    c.input(Input::PromptDone);
    c.input(Input::Key('1'));
    assert_eq!(c.last(), Some(&plays(&["borgerservice-menu"])));
    c.input(Input::Key('1'));
    assert_eq!(c.last(), Some(&Output::Route(Target::Queue("pas".into()))));
    assert!(c.runner.is_finished());
}

#[test]
fn a_key_during_the_prompt_stops_it() {
    let mut c = Call::new(&[]);
    c.input(Input::Key('9'));
    assert_eq!(c.out[1..], [Output::StopPlayback, Output::Route(Target::Switchboard)]);
}

#[test]
fn an_invalid_key_says_so_and_plays_the_menu_again() {
    let mut c = Call::new(&[]);
    c.input(Input::PromptDone);
    c.input(Input::Key('7'));
    assert_eq!(c.last(), Some(&plays(&["ugyldigt-valg", "velkommen", "hovedmenu"])));
    assert!(c.steps().contains(&Step::Invalid('7')));
}

#[test]
fn silence_after_the_retries_reaches_the_operator_never_a_hang_up() {
    let mut c = Call::new(&[]);
    for _ in 0..3 {
        c.silence();
    }
    assert_eq!(c.last(), Some(&Output::Route(Target::Switchboard)));
    let steps = c.steps();
    assert_eq!(steps.iter().filter(|s| **s == Step::NoInput).count(), 3);
    assert!(steps.contains(&Step::Fallback(MenuId("hoved".into()))));
}

#[test]
fn information_is_heard_to_the_end_then_the_menu_returns() {
    let mut c = Call::new(&[]);
    c.input(Input::Key('4'));
    assert_eq!(
        c.last(),
        Some(&Output::Play {
            prompt: ivr::Prompt(vec!["udbetaling-danmark".into()]),
            lang: "da".into(),
            barge_in: false
        })
    );
    c.input(Input::Key('9'));
    assert!(!c.runner.is_finished(), "a key does not cut the information short");
    c.input(Input::PromptDone);
    assert_eq!(c.last(), Some(&plays(&["velkommen", "hovedmenu"])));
}

#[test]
fn a_closed_department_takes_its_closed_path() {
    let mut c = Call::new(&["borgerservice"]);
    c.input(Input::Key('1'));
    assert_eq!(c.last(), Some(&Output::Record { owner: "department:borgerservice".into() }));
    assert!(c.steps().contains(&Step::Closed("borgerservice".into())));
}

#[test]
fn the_language_choice_switches_the_prompts() {
    let mut c = Call::new(&[]);
    c.input(Input::Key('8'));
    assert_eq!(
        c.last(),
        Some(&Output::Play {
            prompt: ivr::Prompt(vec!["welcome".into(), "main-menu".into()]),
            lang: "en".into(),
            barge_in: true
        })
    );
    assert!(c.steps().contains(&Step::Language("en".into())));
}

#[test]
fn the_trace_tells_the_whole_path() {
    let mut c = Call::new(&[]);
    c.input(Input::PromptDone);
    c.input(Input::Key('5'));
    c.input(Input::Key('1'));
    c.input(Input::Key('2'));
    assert_eq!(
        c.steps(),
        vec![
            Step::Entered(MenuId("hoved".into())),
            Step::Played(vec!["velkommen".into(), "hovedmenu".into()]),
            Step::Invalid('5'),
            Step::Played(vec!["ugyldigt-valg".into(), "velkommen".into(), "hovedmenu".into()]),
            Step::Chose('1'),
            Step::Entered(MenuId("borgerservice".into())),
            Step::Played(vec!["borgerservice-menu".into()]),
            Step::Chose('2'),
            Step::Routed(Target::Queue("flytning".into())),
        ]
    );
}

#[test]
fn bad_menus_are_refused_with_every_problem() {
    let text = r#"
[[menus]]
id = "a"
prompt = []
fallback = "menu:b"
options = { "12" = "operator", "3" = "menu:nowhere", "4" = "fax:1", "5" = "record:someone" }

[[menus]]
id = "b"
prompt = ["b"]
fallback = "menu:a"

[[menus]]
id = "c"
prompt = ["c"]
fallback = "repeat"
"#;
    let err = config(text).expect_err("invalid").to_string();
    for needle in [
        "needs a prompt",
        "\"12\"",
        "\"nowhere\" does not exist",
        "unknown action \"fax:1\"",
        "record owner",
        "repeat would never end",
    ] {
        assert!(err.contains(needle), "{needle:?} missing in {err}");
    }
    // A loop of fallbacks between menus is a dead end too.
    let looped = r#"
[[menus]]
id = "a"
prompt = ["a"]
fallback = "menu:b"
[[menus]]
id = "b"
prompt = ["b"]
fallback = "menu:a"
"#;
    assert!(config(looped).expect_err("loop").to_string().contains("silence only leads round the menus"));
}

proptest! {
    /// Whatever a caller does, the IVR ends in a route or a message, says so once, and
    /// waits for nothing forever: silence alone finishes it within the retry budget.
    #[test]
    fn every_caller_ends_at_a_person_or_a_message(keys in prop::collection::vec(prop::sample::select(vec!['0','1','2','3','4','5','6','7','8','9','*','#']), 0..12)) {
        let mut c = Call::new(&[]);
        for k in keys {
            if c.runner.is_finished() { break; }
            c.input(Input::Key(k));
            c.input(Input::PromptDone);
        }
        for _ in 0..20 {
            if c.runner.is_finished() { break; }
            c.input(Input::PromptDone);
            if let Some(at) = c.runner.poll_timeout() {
                c.now = at;
                c.input(Input::Timeout);
            }
        }
        prop_assert!(c.runner.is_finished(), "stuck: {:?}", c.steps());
        let ends = c.out.iter().filter(|o| matches!(o, Output::Route(_) | Output::Record { .. })).count();
        prop_assert_eq!(ends, 1);
    }
}

#[test]
fn consent_is_a_key_the_caller_presses_and_is_in_the_trace() {
    let text = r#"
[[menus]]
id = "a"
prompt = ["a"]
fallback = "operator"
options = { "1" = "consent then user:1001", "2" = "user:1001" }
"#;
    let cfg = Arc::new(config(text).expect("valid"));
    let now = Instant::now();
    let mut r = Runner::start(cfg.clone(), Facts::default(), "da", now);
    while r.poll_output().is_some() {}
    r.handle_input(now, Input::Key('1'));
    let out: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    assert_eq!(out, vec![Output::StopPlayback, Output::Consent, Output::Route(Target::User("1001".into()))]);
    assert!(r.trace().iter().any(|t| t.step == Step::Consented));
    // the other key: no consent
    let mut r = Runner::start(cfg, Facts::default(), "da", now);
    while r.poll_output().is_some() {}
    r.handle_input(now, Input::Key('2'));
    assert!(!std::iter::from_fn(|| r.poll_output()).any(|o| o == Output::Consent));
}

#[test]
fn silence_or_a_closed_department_is_never_consent() {
    let text = r#"
[[menus]]
id = "a"
prompt = ["a"]
fallback = "consent then operator"
open = { department = "x", closed = "consent then operator" }
"#;
    let err = config(text).expect_err("invalid").to_string();
    assert!(err.contains("consent must be a key the caller presses"), "{err}");
}
