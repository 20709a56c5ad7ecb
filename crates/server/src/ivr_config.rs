//! `[ivr]`: the main number's menus (DOMAIN.md §6), validated into `ivr::IvrConfig`, with
//! every target checked against the organisation and queues, and every prompt against
//! the prompt directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ivr::{Action, IvrConfig, Prompt, RawMenu, Target};
use serde::Deserialize;

use crate::config::RawConfig;

/// `[ivr]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIvr {
    /// Directory with `<lang>/<prompt>.wav` (default `prompts`, relative to where svar runs).
    pub(crate) prompts_dir: Option<String>,
    /// Language callers start in (default `da`).
    pub(crate) language: Option<String>,
    /// The menus; the first is where callers start.
    pub(crate) menus: Vec<RawMenu>,
    /// Numbers users dial internally to reach the menus (trunk callers reach them by a
    /// DID with `ivr = true`).
    #[serde(default)]
    pub(crate) numbers: Vec<String>,
    /// Seconds a target rings before the caller is offered a message (default 25).
    pub(crate) transfer_timeout_s: Option<u64>,
    /// Longest message in seconds (default 120).
    pub(crate) max_message_s: Option<u64>,
}

/// The validated `[ivr]`.
#[derive(Debug, Clone)]
pub(crate) struct Ivr {
    pub(crate) menus: IvrConfig,
    pub(crate) prompts_dir: PathBuf,
    pub(crate) language: String,
    /// Internal numbers of the menus.
    pub(crate) numbers: Vec<String>,
    /// Extensions each target rings.
    pub(crate) rings: HashMap<String, Vec<String>>,
    /// The owner of a message when a target does not answer.
    pub(crate) owners: HashMap<String, String>,
    /// The owner when the switchboard itself does not answer.
    pub(crate) last_resort_owner: String,
    pub(crate) transfer_timeout: std::time::Duration,
    pub(crate) max_message: std::time::Duration,
}

/// Prompts the call flow itself plays, by the name call control uses, and the file
/// name in each language's set.
const SYSTEM_PROMPTS: [(&str, &str, &str); 2] =
    [("indtal-besked", "indtal-besked", "record-message"), ("tak-for-beskeden", "tak-for-beskeden", "thanks")];

/// Where each target rings and who owns the message when nobody answers.
fn resolve_targets(raw: &RawConfig, switchboard: &str) -> (HashMap<String, Vec<String>>, HashMap<String, String>) {
    let mut rings: HashMap<String, Vec<String>> = HashMap::new();
    let mut owners = HashMap::new();
    let team_dept: HashMap<&str, &str> = raw.teams.iter().map(|t| (t.id.as_str(), t.department.as_str())).collect();
    for u in &raw.users {
        rings.insert(format!("user:{}", u.extension), vec![u.extension.clone()]);
        owners.insert(format!("user:{}", u.extension), format!("employee:{}", u.extension));
        if let Some(t) = &u.team {
            rings.entry(format!("team:{t}")).or_default().push(u.extension.clone());
            if team_dept.get(t.as_str()) == Some(&switchboard) {
                rings.entry("switchboard".into()).or_default().push(u.extension.clone());
            }
        }
    }
    for t in &raw.teams {
        owners.insert(format!("team:{}", t.id), format!("team:{}", t.id));
    }
    for q in &raw.queues {
        let mut members = q.members.clone();
        if let Some(t) = &q.team {
            members.extend(rings.get(&format!("team:{t}")).cloned().unwrap_or_default());
        }
        members.dedup();
        rings.insert(format!("queue:{}", q.id), members);
        owners.insert(format!("queue:{}", q.id), format!("department:{}", q.department));
    }
    owners.insert("switchboard".into(), format!("department:{switchboard}"));
    (rings, owners)
}

/// Each message owner's department, as the ledger sees it (employee → team → department).
fn owner_departments(cfg: &crate::config::Config) -> HashMap<String, String> {
    let org = &cfg.organisation;
    let team_dept: HashMap<&str, &str> = org.teams.iter().map(|t| (t.id.as_str(), t.department.as_str())).collect();
    let mut out: HashMap<String, String> =
        org.teams.iter().map(|t| (format!("team:{}", t.id), t.department.clone())).collect();
    for e in &org.employees {
        if let Some(d) = team_dept.get(e.team.as_str()) {
            out.insert(format!("employee:{}", e.extension), (*d).to_owned());
        }
    }
    out
}

/// Load every prompt of the prompt directory (each language's folder) once, for all
/// calls, and the call flow's own prompts under the names call control uses.
pub(crate) fn load_setup(cfg: &crate::config::Config, ivr: &Ivr, base: &Path) -> Result<pbx::IvrSetup, Vec<String>> {
    let dir = base.join(&ivr.prompts_dir);
    let mut prompts = HashMap::new();
    let mut errs = Vec::new();
    let langs = std::fs::read_dir(&dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
    for lang in langs.flatten().filter(|e| e.path().is_dir()) {
        let lang_name = lang.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(lang.path()).into_iter().flatten().flatten() {
            let path = f.path();
            if path.extension().and_then(|e| e.to_str()) != Some("wav") {
                continue;
            }
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| media::prompt::Prompt::from_wav(&b).map_err(|e| e.to_string()))
            {
                Ok(p) => {
                    prompts.insert((lang_name.clone(), name), p);
                }
                Err(e) => errs.push(format!("{}: {e}", path.display())),
            }
        }
    }
    for (logical, da, en) in SYSTEM_PROMPTS {
        for (lang, file) in [("da", da), ("en", en)] {
            if let Some(p) = prompts.get(&(lang.to_owned(), file.to_owned())).cloned() {
                prompts.insert((lang.to_owned(), logical.to_owned()), p);
            }
        }
        if !prompts.contains_key(&(ivr.language.clone(), logical.to_owned())) {
            errs.push(format!("ivr: the call flow's prompt {logical:?} is missing for language {}", ivr.language));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(pbx::IvrSetup {
        menus: std::sync::Arc::new(ivr.menus.clone()),
        language: ivr.language.clone(),
        prompts,
        rings: ivr.rings.clone(),
        owners: ivr.owners.clone(),
        last_resort_owner: ivr.last_resort_owner.clone(),
        record_limits: media::record::RecordLimits { max_length: ivr.max_message, ..Default::default() },
        transfer_timeout: ivr.transfer_timeout,
        calendar: Some(std::sync::Arc::new(pbx::ivr_setup::IvrCalendar {
            calendar: cfg.calendar.clone(),
            departments: cfg.departments.clone(),
            rule: cfg.deadline_rule,
            owner_departments: owner_departments(cfg),
            switchboard: cfg.switchboard.clone(),
        })),
    })
}

fn targets(a: &Action, out: &mut Vec<String>) {
    match a {
        Action::Route(Target::User(u)) => out.push(format!("user:{u}")),
        Action::Route(Target::Team(t)) => out.push(format!("team:{t}")),
        Action::Route(Target::Queue(q)) => out.push(format!("queue:{q}")),
        Action::Record { owner } => out.push(format!("record:{owner}")),
        Action::Info { then, .. } | Action::Consent { then } => targets(then, out),
        Action::Route(Target::External(n)) => out.push(format!("external:{n}")),
        Action::Route(Target::Switchboard) | Action::Menu(_) | Action::Repeat | Action::Language { .. } => {}
    }
}

pub(crate) fn validate(
    raw: &RawConfig,
    departments: &[String],
    switchboard: &str,
    routes: &[pbx::config::OutboundRoute],
    errs: &mut Vec<String>,
) -> Option<Ivr> {
    let r = raw.ivr.as_ref()?;
    let menus = match IvrConfig::from_raw(&r.menus) {
        Ok(m) => m,
        Err(e) => {
            errs.extend(e.problems.into_iter().map(|p| format!("ivr: {p}")));
            return None;
        }
    };
    let users: Vec<&str> = raw.users.iter().map(|u| u.extension.as_str()).collect();
    let teams: Vec<&str> = raw.teams.iter().map(|t| t.id.as_str()).collect();
    let queues: Vec<&str> = raw.queues.iter().map(|q| q.id.as_str()).collect();
    for m in menus.menus.values() {
        let mut t = Vec::new();
        for a in m.options.values().chain(std::iter::once(&m.fallback)) {
            targets(a, &mut t);
        }
        if let Some(tc) = &m.time_condition {
            targets(&tc.closed, &mut t);
            if !departments.contains(&tc.department) {
                errs.push(format!("ivr menu {}: department {:?} does not exist", m.id.0, tc.department));
            }
        }
        for target in t {
            if let Some(number) = target.strip_prefix("external:") {
                // the same toll-fraud rules a live call meets
                if let Err((_, reason)) = pbx::config::pick_route(routes, &pbx::numbers::normalise(number)) {
                    errs.push(format!("ivr menu {}: {target} cannot be dialled: {reason}", m.id.0));
                }
                continue;
            }
            let ok = match target.split_once(':') {
                Some(("user", u)) => users.contains(&u),
                Some(("team", x)) => teams.contains(&x),
                Some(("queue", q)) => queues.contains(&q),
                Some(("record", owner)) => match owner.split_once(':') {
                    Some(("employee", u)) => users.contains(&u),
                    Some(("team", x)) => teams.contains(&x),
                    Some(("department", d)) => departments.iter().any(|x| x == d),
                    _ => false,
                },
                _ => true,
            };
            if !ok {
                errs.push(format!("ivr menu {}: {target} does not exist", m.id.0));
            }
        }
    }
    let (rings, owners) = resolve_targets(raw, switchboard);
    if rings.get("switchboard").is_none_or(Vec::is_empty) {
        errs.push(format!("ivr: nobody staffs the switchboard department {switchboard:?} (a team of it with members)"));
    }
    let transfer = r.transfer_timeout_s.unwrap_or(25);
    let max_message = r.max_message_s.unwrap_or(120);
    if !(5..=300).contains(&transfer) {
        errs.push(format!("ivr.transfer_timeout_s: {transfer} is outside 5–300"));
    }
    if !(10..=600).contains(&max_message) {
        errs.push(format!("ivr.max_message_s: {max_message} is outside 10–600"));
    }
    Some(Ivr {
        menus,
        prompts_dir: PathBuf::from(r.prompts_dir.clone().unwrap_or_else(|| "prompts".into())),
        language: r.language.clone().unwrap_or_else(|| "da".into()),
        numbers: r.numbers.iter().map(|n| pbx::numbers::normalise(n)).collect(),
        rings,
        owners,
        last_resort_owner: format!("department:{switchboard}"),
        transfer_timeout: std::time::Duration::from_secs(transfer),
        max_message: std::time::Duration::from_secs(max_message),
    })
}

/// Every prompt the menus play, with the language it is played in.
fn prompts(ivr: &Ivr) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |lang: &str, p: &Prompt| out.extend(p.0.iter().map(|n| (lang.to_owned(), n.clone())));
    // A menu reached through a language choice plays in that language.
    let mut lang_of = std::collections::HashMap::new();
    for m in ivr.menus.menus.values() {
        for a in m.options.values() {
            if let Action::Language { lang, menu } = a {
                lang_of.insert(menu.clone(), lang.clone());
            }
        }
    }
    for m in ivr.menus.menus.values() {
        let lang = lang_of.get(&m.id).cloned().unwrap_or_else(|| ivr.language.clone());
        add(&lang, &m.prompt);
        add(&lang, &m.invalid);
        for a in m.options.values().chain(std::iter::once(&m.fallback)) {
            if let Action::Info { prompt, .. } = a {
                add(&lang, prompt);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Check that every prompt the menus play is a file (run by `serve` and `check-config`,
/// relative to where svar runs).
pub(crate) fn check_prompts(ivr: &Ivr, base: &Path) -> Vec<String> {
    let dir = base.join(&ivr.prompts_dir);
    if !dir.is_dir() {
        return vec![format!("ivr.prompts_dir: {} is not a directory", dir.display())];
    }
    prompts(ivr)
        .into_iter()
        .filter(|(lang, name)| !dir.join(lang).join(format!("{name}.wav")).is_file())
        .map(|(lang, name)| format!("ivr: prompt {lang}/{name}.wav is missing in {}", dir.display()))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::{DEMO, Overrides, load};

    #[test]
    fn the_demo_main_number_has_its_menus_and_prompts() {
        let c = load(DEMO, &Overrides::default()).expect("demo");
        let ivr = c.ivr.expect("an IVR");
        assert_eq!(ivr.menus.entry.0, "hoved");
        assert_eq!(ivr.menus.menus.len(), 3);
        // From the repository root the prompts are all there.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(super::check_prompts(&ivr, &root), Vec::<String>::new());
        // Elsewhere they are not, and each missing file would be named.
        let empty = std::env::temp_dir().join(format!("svar-no-prompts-{}", std::process::id()));
        std::fs::create_dir_all(empty.join("prompts/da")).expect("dir");
        let missing = super::check_prompts(&ivr, &empty);
        assert!(missing.iter().any(|m| m.contains("da/velkommen.wav")), "{missing:?}");
        assert!(
            missing.iter().any(|m| m.contains("en/welcome.wav")),
            "the English menu's prompts are English: {missing:?}"
        );
        std::fs::remove_dir_all(empty).ok();
    }

    #[test]
    fn menu_targets_must_exist() {
        let text = DEMO
            .replace(
                "\"5\" = \"team:byggesag\"",
                "\"5\" = \"team:nowhere\", \"6\" = \"queue:ghost\", \"7\" = \"record:department:moon\"",
            )
            .replace("open = { department = \"borgerservice\"", "open = { department = \"atlantis\"");
        let err = load(&text, &Overrides::default()).expect_err("invalid").to_string();
        for needle in ["team:nowhere", "queue:ghost", "record:department:moon", "\"atlantis\" does not exist"] {
            assert!(err.contains(needle), "{needle:?} missing in {err}");
        }
    }
}
