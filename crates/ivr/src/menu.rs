//! Menus as the configuration writes them, validated into a graph the runner can walk.
//!
//! ```toml
//! [[ivr.menus]]
//! id = "hoved"
//! prompt = ["velkommen", "hovedmenu"]
//! timeout_s = 6
//! retries = 2
//! invalid = ["ugyldigt-valg"]
//! fallback = "operator"
//! open = { department = "borgerservice", closed = "record:department:borgerservice" }
//! options = { "1" = "menu:pas", "2" = "queue:borgerservice", "4" = "info:udbetaling-danmark then operator", "9" = "operator" }
//! ```
//!
//! Actions: `menu:ID`, `user:EXT`, `team:ID`, `queue:ID`, `external:NUMBER`, `operator`
//! (the switchboard), `repeat`, `record:OWNER` (a message for `employee:EXT`, `team:ID`
//! or `department:ID`), `info:PROMPT then ACTION`, `language:LANG:MENU`. There is no
//! hang-up: every path ends at a person, a queue or a message.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// A menu's id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MenuId(pub String);

/// Prompts played in order (names of recordings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prompt(pub Vec<String>);

/// Where a caller can be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An employee (their coverage chain applies).
    User(String),
    /// A team group.
    Team(String),
    /// A contact-centre queue.
    Queue(String),
    /// An outside number.
    External(String),
    /// The switchboard: a person.
    Switchboard,
}

/// What a key (or a timeout, or a closed department) leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Another menu.
    Menu(MenuId),
    /// A person, group, queue or number.
    Route(Target),
    /// Record a message for an owner (`employee:1001`, `team:x`, `department:y`).
    Record {
        /// The owner.
        owner: String,
    },
    /// The caller agrees, by this key press, to the conversation being recorded for
    /// training (DOMAIN.md: only an active choice is consent), then go on.
    Consent {
        /// What happens next.
        then: Box<Self>,
    },
    /// Play information, then go on.
    Info {
        /// What to play.
        prompt: Prompt,
        /// Then.
        then: Box<Self>,
    },
    /// Play the current menu again.
    Repeat,
    /// Switch language and go to a menu.
    Language {
        /// Language code (`da`, `en`).
        lang: String,
        /// Menu.
        menu: MenuId,
    },
}

/// Open or closed, by a department's hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeCondition {
    /// The department whose hours decide.
    pub department: String,
    /// What happens when it is closed.
    pub closed: Action,
}

/// One menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// Id.
    pub id: MenuId,
    /// Played on entry and on each retry.
    pub prompt: Prompt,
    /// Key → action.
    pub options: BTreeMap<char, Action>,
    /// How long to wait for a key after the prompt.
    pub timeout: Duration,
    /// Retries after an invalid key or silence, before the fallback.
    pub retries: u8,
    /// Played after an invalid key.
    pub invalid: Prompt,
    /// After the last retry.
    pub fallback: Action,
    /// Open/closed check on entry.
    pub time_condition: Option<TimeCondition>,
}

/// The menus of one entry point (a main number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrConfig {
    /// Where callers start.
    pub entry: MenuId,
    /// All menus by id.
    pub menus: BTreeMap<MenuId, Menu>,
}

impl IvrConfig {
    /// A menu by id.
    #[must_use]
    pub fn menu(&self, id: &MenuId) -> Option<&Menu> {
        self.menus.get(id)
    }
}

/// `[[ivr.menus]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMenu {
    /// Id.
    pub id: String,
    /// Prompt names.
    pub prompt: Vec<String>,
    /// Key → action text.
    #[serde(default)]
    pub options: BTreeMap<String, RawAction>,
    /// Seconds to wait for a key (default 6).
    pub timeout_s: Option<u64>,
    /// Retries (default 2).
    pub retries: Option<u8>,
    /// Played after an invalid key (default: none, the menu repeats).
    #[serde(default)]
    pub invalid: Vec<String>,
    /// After the last retry (default `operator`).
    pub fallback: Option<RawAction>,
    /// Time condition.
    pub open: Option<RawOpen>,
}

/// An action as written.
pub type RawAction = String;

/// `open = { department = "...", closed = "..." }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOpen {
    /// Department id.
    pub department: String,
    /// Action when closed.
    pub closed: RawAction,
}

/// Every problem of a set of menus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("; "))]
pub struct MenuError {
    /// The problems, each with where it is.
    pub problems: Vec<String>,
}

fn parse_action(at: &str, text: &str, problems: &mut Vec<String>) -> Action {
    let text = text.trim();
    if let Some((info, then)) = text.strip_prefix("info:").and_then(|r| r.split_once(" then ")) {
        return Action::Info {
            prompt: Prompt(info.split_whitespace().map(str::to_owned).collect()),
            then: Box::new(parse_action(at, then, problems)),
        };
    }
    if let Some(then) = text.strip_prefix("consent then ") {
        return Action::Consent { then: Box::new(parse_action(at, then, problems)) };
    }
    let (kind, arg) = text.split_once(':').unwrap_or((text, ""));
    let need = |problems: &mut Vec<String>| {
        if arg.is_empty() {
            problems.push(format!("{at}: {text:?} needs a value after ':'"));
        }
        arg.to_owned()
    };
    match kind {
        "operator" | "switchboard" => Action::Route(Target::Switchboard),
        "repeat" => Action::Repeat,
        "menu" => Action::Menu(MenuId(need(problems))),
        "user" => Action::Route(Target::User(need(problems))),
        "team" => Action::Route(Target::Team(need(problems))),
        "queue" => Action::Route(Target::Queue(need(problems))),
        "external" => Action::Route(Target::External(need(problems))),
        "record" => {
            let owner = need(problems);
            if !owner.is_empty() && !["employee:", "team:", "department:"].iter().any(|p| owner.starts_with(p)) {
                problems.push(format!("{at}: record owner {owner:?} is not employee:, team: or department:"));
            }
            Action::Record { owner }
        }
        "language" => match arg.split_once(':') {
            Some((lang, menu)) if !lang.is_empty() && !menu.is_empty() => {
                Action::Language { lang: lang.to_owned(), menu: MenuId(menu.to_owned()) }
            }
            _ => {
                problems.push(format!("{at}: {text:?} is not language:LANG:MENU"));
                Action::Route(Target::Switchboard)
            }
        },
        "info" => {
            problems.push(format!("{at}: {text:?} is not info:PROMPT then ACTION"));
            Action::Route(Target::Switchboard)
        }
        "consent" => {
            problems.push(format!("{at}: {text:?} is not consent then ACTION"));
            Action::Route(Target::Switchboard)
        }
        _ => {
            problems.push(format!("{at}: unknown action {text:?}"));
            Action::Route(Target::Switchboard)
        }
    }
}

fn menu_refs(a: &Action, out: &mut Vec<MenuId>) {
    match a {
        Action::Menu(m) | Action::Language { menu: m, .. } => out.push(m.clone()),
        Action::Info { then, .. } | Action::Consent { then } => menu_refs(then, out),
        Action::Route(_) | Action::Record { .. } | Action::Repeat => {}
    }
}

impl IvrConfig {
    /// Validate menus; the first is the entry point.
    ///
    /// # Errors
    /// Every problem: unknown actions, menus that do not exist, keys that are not keys,
    /// a menu that cannot reach a person.
    pub fn from_raw(raw: &[RawMenu]) -> Result<Self, MenuError> {
        let mut problems = Vec::new();
        let mut menus = BTreeMap::new();
        for (i, r) in raw.iter().enumerate() {
            let at = format!("ivr.menus[{i}] ({})", r.id);
            if r.prompt.is_empty() {
                problems.push(format!("{at}: a menu needs a prompt"));
            }
            let mut options = BTreeMap::new();
            for (k, a) in &r.options {
                let mut chars = k.chars();
                match (chars.next(), chars.next()) {
                    (Some(c @ ('0'..='9' | '*' | '#')), None) => {
                        options.insert(c, parse_action(&format!("{at}.options.{k}"), a, &mut problems));
                    }
                    _ => problems.push(format!("{at}.options: {k:?} is not one key 0-9, * or #")),
                }
            }
            let fallback =
                parse_action(&format!("{at}.fallback"), r.fallback.as_deref().unwrap_or("operator"), &mut problems);
            if matches!(fallback, Action::Repeat) {
                problems.push(format!("{at}.fallback: repeat would never end; send the caller somewhere"));
            }
            let time_condition = r.open.as_ref().map(|o| TimeCondition {
                department: o.department.clone(),
                closed: parse_action(&format!("{at}.open.closed"), &o.closed, &mut problems),
            });
            // Silence or a closed department is not a choice: consent only by a key.
            let passive = std::iter::once(&fallback).chain(time_condition.as_ref().map(|t| &t.closed));
            if passive.into_iter().any(|a| matches!(a, Action::Consent { .. })) {
                problems
                    .push(format!("{at}: consent must be a key the caller presses, not a fallback or a closed path"));
            }
            let menu = Menu {
                id: MenuId(r.id.clone()),
                prompt: Prompt(r.prompt.clone()),
                options,
                timeout: Duration::from_secs(r.timeout_s.unwrap_or(6).max(1)),
                retries: r.retries.unwrap_or(2),
                invalid: Prompt(r.invalid.clone()),
                fallback,
                time_condition,
            };
            if menus.insert(menu.id.clone(), menu).is_some() {
                problems.push(format!("{at}: id used twice"));
            }
        }
        for m in menus.values() {
            let mut refs = Vec::new();
            for a in m.options.values().chain(std::iter::once(&m.fallback)) {
                menu_refs(a, &mut refs);
            }
            if let Some(tc) = &m.time_condition {
                menu_refs(&tc.closed, &mut refs);
            }
            for r in refs {
                if !menus.contains_key(&r) {
                    problems.push(format!("ivr menu {}: menu {:?} does not exist", m.id.0, r.0));
                }
            }
        }
        let Some(entry) = raw.first().map(|r| MenuId(r.id.clone())) else {
            return Err(MenuError { problems: vec!["ivr: no menus".into()] });
        };
        if !problems.is_empty() {
            return Err(MenuError { problems });
        }
        let cfg = Self { entry, menus };
        // Never a dead end: from every menu, silence alone leads somewhere that is not
        // only menus going round in circles.
        for m in cfg.menus.values() {
            if !cfg.silence_reaches_a_person(&m.id) {
                problems.push(format!("ivr menu {}: silence only leads round the menus; end it at a person", m.id.0));
            }
        }
        if problems.is_empty() { Ok(cfg) } else { Err(MenuError { problems }) }
    }

    /// Following fallbacks (what happens to a caller who presses nothing) ends at a route
    /// or a message.
    fn silence_reaches_a_person(&self, start: &MenuId) -> bool {
        let mut at = start.clone();
        for _ in 0..=self.menus.len() {
            let Some(m) = self.menus.get(&at) else { return false };
            let mut a = &m.fallback;
            while let Action::Info { then, .. } = a {
                a = then;
            }
            match a {
                Action::Route(_) | Action::Record { .. } => return true,
                Action::Menu(next) | Action::Language { menu: next, .. } => at = next.clone(),
                Action::Repeat | Action::Info { .. } | Action::Consent { .. } => return false,
            }
        }
        false
    }
}
