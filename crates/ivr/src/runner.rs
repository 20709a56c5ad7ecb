//! One caller's walk through the menus, sans-IO: inputs are keys, the end of a prompt
//! and time; outputs say what to play and where the call goes. Keys interrupt a prompt
//! (barge-in); information prompts are heard to the end.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::menu::{Action, IvrConfig, Menu, MenuId, Prompt, Target};

/// What the driver knows when the call arrives.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Departments closed now (from the calendar).
    pub closed: HashSet<String>,
}

/// An input to the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The caller pressed a key.
    Key(char),
    /// The prompt that was playing finished.
    PromptDone,
    /// Time passed (call at [`Runner::poll_timeout`]).
    Timeout,
}

/// What the runner asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Play these prompts in this language; keys may interrupt when `barge_in`.
    Play {
        /// The prompts.
        prompt: Prompt,
        /// Language.
        lang: String,
        /// A key stops the prompt.
        barge_in: bool,
    },
    /// Stop the prompt that is playing (a key interrupted it).
    StopPlayback,
    /// The IVR is done: send the call here.
    Route(Target),
    /// The IVR is done: record a message for this owner (it becomes an obligation).
    Record {
        /// `employee:…`, `team:…` or `department:…`.
        owner: String,
    },
    /// The caller pressed the key that agrees to the conversation being recorded.
    Consent,
}

/// One step of the call flow, for the console and statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Entered a menu.
    Entered(MenuId),
    /// A department was closed; its closed path was taken.
    Closed(String),
    /// Played prompts.
    Played(Vec<String>),
    /// A key chose an option.
    Chose(char),
    /// A key that is not an option.
    Invalid(char),
    /// No key before the timeout.
    NoInput,
    /// Out of retries: the fallback.
    Fallback(MenuId),
    /// Language switched.
    Language(String),
    /// Sent to a target.
    Routed(Target),
    /// Sent to record a message.
    Recording(String),
    /// Agreed to the conversation being recorded.
    Consented,
}

/// A step with when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// When.
    pub at: Instant,
    /// What.
    pub step: Step,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// A menu prompt is playing (keys interrupt).
    Prompting,
    /// Waiting for a key until the deadline.
    Waiting(Instant),
    /// An information prompt is playing; then this action.
    Informing(Action),
    /// Done.
    Finished,
}

/// One caller in the IVR.
#[derive(Debug)]
pub struct Runner {
    cfg: Arc<IvrConfig>,
    facts: Facts,
    menu: MenuId,
    lang: String,
    attempts: u8,
    phase: Phase,
    out: VecDeque<Output>,
    trace: Vec<TraceStep>,
    now: Instant,
}

impl Runner {
    /// A caller arrives at the entry menu.
    #[must_use]
    pub fn start(cfg: Arc<IvrConfig>, facts: Facts, lang: &str, now: Instant) -> Self {
        let entry = cfg.entry.clone();
        let mut r = Self {
            cfg,
            facts,
            menu: entry.clone(),
            lang: lang.to_owned(),
            attempts: 0,
            phase: Phase::Prompting,
            out: VecDeque::new(),
            trace: Vec::new(),
            now,
        };
        r.enter(entry);
        r
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call with [`Input::Timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting(at) => Some(at),
            _ => None,
        }
    }

    /// The call flow so far.
    #[must_use]
    pub fn trace(&self) -> &[TraceStep] {
        &self.trace
    }

    /// Whether the caller has left the IVR (routed or recording).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Apply an input at `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.now = now;
        match (input, self.phase.clone()) {
            (_, Phase::Finished) => {}
            (Input::Key(k), Phase::Prompting) => {
                self.out.push_back(Output::StopPlayback);
                self.key(k);
            }
            (Input::Key(k), Phase::Waiting(_)) => self.key(k),
            (Input::Key(_), Phase::Informing(_)) => {} // information is heard to the end
            (Input::PromptDone, Phase::Prompting) => {
                let timeout = self.current().map_or(Duration::from_secs(6), |m| m.timeout);
                self.phase = Phase::Waiting(now + timeout);
            }
            (Input::PromptDone, Phase::Informing(then)) => self.perform(then),
            (Input::PromptDone, Phase::Waiting(_)) => {}
            (Input::Timeout, Phase::Waiting(at)) if now >= at => {
                self.log(Step::NoInput);
                self.retry(None);
            }
            (Input::Timeout, _) => {}
        }
    }

    fn current(&self) -> Option<&Menu> {
        self.cfg.menu(&self.menu)
    }

    fn log(&mut self, step: Step) {
        self.trace.push(TraceStep { at: self.now, step });
    }

    fn play(&mut self, prompt: &Prompt, barge_in: bool) {
        self.log(Step::Played(prompt.0.clone()));
        self.out.push_back(Output::Play { prompt: prompt.clone(), lang: self.lang.clone(), barge_in });
    }

    fn enter(&mut self, id: MenuId) {
        let Some(menu) = self.cfg.menu(&id).cloned() else {
            // Validation makes this impossible; still, a person beats a dead end.
            self.perform(Action::Route(Target::Switchboard));
            return;
        };
        self.menu = id.clone();
        self.attempts = 0;
        self.log(Step::Entered(id));
        if let Some(tc) = &menu.time_condition
            && self.facts.closed.contains(&tc.department)
        {
            self.log(Step::Closed(tc.department.clone()));
            self.perform(tc.closed.clone());
            return;
        }
        self.phase = Phase::Prompting;
        self.play(&menu.prompt, true);
    }

    fn key(&mut self, k: char) {
        let option = self.current().and_then(|m| m.options.get(&k).cloned());
        match option {
            Some(action) => {
                self.log(Step::Chose(k));
                self.perform(action);
            }
            None => {
                self.log(Step::Invalid(k));
                self.retry(Some(k));
            }
        }
    }

    /// An invalid key or silence: say so and play the menu again, or give up to the
    /// fallback after the configured retries.
    fn retry(&mut self, invalid: Option<char>) {
        let Some(menu) = self.current().cloned() else { return };
        self.attempts += 1;
        if self.attempts > menu.retries {
            self.log(Step::Fallback(menu.id.clone()));
            self.perform(menu.fallback);
            return;
        }
        self.phase = Phase::Prompting;
        if invalid.is_some() && !menu.invalid.0.is_empty() {
            let mut p = menu.invalid.clone();
            p.0.extend(menu.prompt.0.iter().cloned());
            self.play(&p, true);
        } else {
            self.play(&menu.prompt, true);
        }
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Menu(id) => self.enter(id),
            Action::Repeat => {
                let id = self.menu.clone();
                self.enter(id);
            }
            Action::Language { lang, menu } => {
                self.log(Step::Language(lang.clone()));
                self.lang = lang;
                self.enter(menu);
            }
            Action::Consent { then } => {
                self.log(Step::Consented);
                self.out.push_back(Output::Consent);
                self.perform(*then);
            }
            Action::Info { prompt, then } => {
                self.phase = Phase::Informing(*then);
                self.play(&prompt, false);
            }
            Action::Route(target) => {
                self.log(Step::Routed(target.clone()));
                self.phase = Phase::Finished;
                self.out.push_back(Output::Route(target));
            }
            Action::Record { owner } => {
                self.log(Step::Recording(owner.clone()));
                self.phase = Phase::Finished;
                self.out.push_back(Output::Record { owner });
            }
        }
    }
}
