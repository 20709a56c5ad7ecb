//! Configuration: TOML → [`RawConfig`] (unknown fields refused) → [`Config`] (every
//! problem listed, nothing invalid can pass).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use pbx::config::{Did, DidTarget, OutboundRoute, PbxConfig, SourceMatch, Trunk, TrunkCredentials, User};
use pbx::numbers::{Pattern, normalise};
use serde::Deserialize;
use sip::Transport;
use sip::digest::{Algorithm, Credentials};
use sip::registrar::RegistrarConfig;
use sip::timers::TimerConfig;

/// The demo municipality, built into the binary so `svar serve` runs anywhere.
pub(crate) const DEMO: &str = include_str!("../../../config/demo.toml");

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Listening addresses and data directory.
    pub(crate) server: RawServer,
    /// SIP settings.
    pub(crate) sip: RawSip,
    /// The municipality's name (more of the organisation comes with the calendar issue).
    pub(crate) municipality: RawMunicipality,
    /// Phone users.
    #[serde(default)]
    pub(crate) users: Vec<RawUser>,
    /// Provider trunks.
    #[serde(default)]
    pub(crate) trunks: Vec<RawTrunk>,
    /// Inbound numbers.
    #[serde(default)]
    pub(crate) dids: Vec<RawDid>,
    /// Outbound routes.
    #[serde(default)]
    pub(crate) routes: Vec<RawRoute>,
    /// Deadline settings and closing days.
    #[serde(default)]
    pub(crate) calendar: Option<RawCalendar>,
    /// Centres.
    #[serde(default)]
    pub(crate) centres: Vec<RawCentre>,
    /// Departments with their phone hours.
    #[serde(default)]
    pub(crate) departments: Vec<RawDepartment>,
    /// Teams.
    #[serde(default)]
    pub(crate) teams: Vec<RawTeam>,
    /// Contact-centre queues.
    #[serde(default)]
    pub(crate) queues: Vec<crate::queues::RawQueue>,
    /// The obligation API.
    pub(crate) api: Option<crate::services_config::RawApi>,
    /// E-mail and SMS about obligations.
    pub(crate) notifications: Option<crate::services_config::RawNotifications>,
    /// Presence sources.
    pub(crate) presence: Option<crate::services_config::RawPresence>,
    /// The main number's menus.
    pub(crate) ivr: Option<crate::ivr_config::RawIvr>,
    /// Anchored RTP.
    pub(crate) media: Option<crate::media_config::RawMedia>,
    /// Recording of conversations (off unless the caller consents; see DOMAIN.md).
    pub(crate) recording: Option<RawRecording>,
}

/// `[recording]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecording {
    /// Record the conversation of a caller who pressed a `consent then …` option in the
    /// IVR (default false: nothing is recorded).
    #[serde(default)]
    pub(crate) conversations: bool,
    /// Days a conversation recording (or a withdrawal record) is kept from the consent;
    /// retention then deletes it (default 30, DOMAIN.md's figure for handled messages).
    pub(crate) keep_days: Option<u32>,
}

/// `[calendar]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalendar {
    /// The receipt day counts as day 1.
    #[serde(default)]
    pub(crate) count_receipt_day: bool,
    /// Closing days count as working days for deadlines.
    #[serde(default)]
    pub(crate) closing_days_count_as_working: bool,
    /// The department whose hours decide day 0 when none is given (default omstillingen).
    pub(crate) switchboard: Option<String>,
    /// Closing days; replace the defaults (grundlovsdag, juleaftensdag, nytårsaftensdag,
    /// the Friday after Ascension) when given.
    pub(crate) closing_days: Option<Vec<RawClosingDay>>,
}

/// `[[calendar.closing_days]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClosingDay {
    /// Danish name.
    pub(crate) name: String,
    /// `MM-DD` every year.
    pub(crate) date: Option<String>,
    /// Or days after Easter Sunday.
    pub(crate) easter_offset: Option<i32>,
    /// Closed from this time only (`12:00`).
    pub(crate) from: Option<String>,
}

/// `[[departments]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDepartment {
    /// Id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Hours per weekday, `09:00-15:00` or `09:00-12:00,13:00-15:00`; absent = closed.
    pub(crate) mon: Option<String>,
    pub(crate) tue: Option<String>,
    pub(crate) wed: Option<String>,
    pub(crate) thu: Option<String>,
    pub(crate) fri: Option<String>,
    pub(crate) sat: Option<String>,
    pub(crate) sun: Option<String>,
    /// Dates with other hours: `"2025-12-23" = "09:00-12:00"`, `"2025-11-18" = "closed"`.
    #[serde(default)]
    pub(crate) overrides: std::collections::BTreeMap<String, String>,
    /// The centre it belongs to (see `[[centres]]`).
    pub(crate) centre: Option<String>,
}

/// `[[centres]]`: the level between the municipality and its departments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCentre {
    /// Id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
}

/// `[server]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    /// SIP address (UDP and TCP), e.g. `0.0.0.0:5060`.
    pub(crate) sip: String,
    /// HTTP address for health, metrics and (later) the console.
    pub(crate) http: String,
    /// Address written into Via and Contact; needed when `sip` is a wildcard.
    pub(crate) advertise: Option<String>,
    /// Data directory (database, recordings).
    pub(crate) data_dir: Option<String>,
    /// Seconds calls may continue after SIGTERM.
    pub(crate) drain_grace_s: Option<u64>,
}

/// `[sip]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSip {
    /// Domain and digest realm.
    pub(crate) domain: String,
    /// Seconds a callee rings.
    pub(crate) ring_timeout_s: Option<u64>,
    /// Registrar minimum expiry.
    pub(crate) min_expires: Option<u32>,
    /// Registrar maximum expiry.
    pub(crate) max_expires: Option<u32>,
    /// Registrar default expiry.
    pub(crate) default_expires: Option<u32>,
    /// T1 in ms.
    pub t1_ms: Option<u64>,
    /// T2 in ms.
    pub t2_ms: Option<u64>,
    /// T4 in ms.
    pub t4_ms: Option<u64>,
    /// Failed digest attempts allowed per source per minute.
    pub(crate) max_auth_failures: Option<u32>,
    /// Digest algorithms offered, first preferred: "MD5", "SHA-256".
    pub(crate) digest_algorithms: Option<Vec<String>>,
}

/// `[municipality]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMunicipality {
    /// Name.
    pub(crate) name: String,
}

/// `[[users]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUser {
    /// Extension and SIP user name.
    pub(crate) extension: String,
    /// Display name.
    pub(crate) name: String,
    /// SIP password.
    pub(crate) password: String,
    /// Outside caller id.
    pub(crate) caller_id: Option<String>,
    /// Team id (see `[[teams]]`).
    pub(crate) team: Option<String>,
    /// The colleague who takes over during absence.
    pub(crate) backup: Option<String>,
    /// Colleagues who cover when this employee does not answer, in order.
    #[serde(default)]
    pub(crate) colleagues: Vec<String>,
    /// Seconds this phone rings before colleagues do (default 15).
    pub(crate) ring_s: Option<u32>,
    /// `switchboard` (default) or `voicemail` after everyone.
    pub(crate) last_resort: Option<String>,
    /// Skills with levels 1-5: `{ pas = 5, kørekort = 3 }`.
    #[serde(default)]
    pub(crate) skills: std::collections::BTreeMap<String, u8>,
    /// Languages spoken.
    #[serde(default)]
    pub(crate) languages: Vec<String>,
    /// E-mail address for notifications about their obligations.
    pub(crate) email: Option<String>,
    /// Calendar feed for absences and meetings: a file path or an `http://` URL.
    pub(crate) calendar: Option<String>,
    /// Working hours, `{ mon = "08:00-16:00", ... }`; outside them the employee is off duty.
    #[serde(default)]
    pub(crate) work_hours: std::collections::BTreeMap<String, String>,
}

/// `[[teams]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTeam {
    /// Id.
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Department id.
    pub(crate) department: String,
    /// Team lead's extension.
    pub(crate) lead: Option<String>,
    /// `parallel` (default) or `in-turn`.
    pub(crate) ring: Option<String>,
    /// The team's shared mailbox, for obligations owned by the team.
    pub(crate) email: Option<String>,
}

/// `[[trunks]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrunk {
    /// Name.
    pub(crate) name: String,
    /// Provider address `ip:port`.
    pub(crate) proxy: String,
    /// `udp` or `tcp`.
    pub(crate) transport: Option<String>,
    /// Trusted sources: `ip` or `ip:port`.
    #[serde(default)]
    pub(crate) allowed_sources: Vec<String>,
    /// Username for digest.
    pub(crate) username: Option<String>,
    /// Password for digest.
    pub(crate) password: Option<String>,
    /// Register with the provider.
    #[serde(default)]
    pub(crate) register: bool,
    /// Caller id for outbound calls.
    pub(crate) caller_id: String,
}

/// `[[dids]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDid {
    /// Number as the provider sends it.
    pub(crate) number: String,
    /// Target user's extension.
    pub(crate) user: Option<String>,
    /// The number is answered by the IVR (`[ivr]`) instead.
    #[serde(default)]
    pub(crate) ivr: bool,
}

/// `[[routes]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    /// Name.
    pub(crate) name: String,
    /// Dial patterns.
    pub(crate) patterns: Vec<String>,
    /// Trunk name.
    pub(crate) trunk: String,
    /// Digits stripped.
    #[serde(default)]
    pub(crate) strip: usize,
    /// Prefix added.
    #[serde(default)]
    pub(crate) prepend: String,
    /// International allowed.
    #[serde(default)]
    pub(crate) allow_international: bool,
    /// Premium rate allowed.
    #[serde(default)]
    pub(crate) allow_premium: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// SIP listen address.
    pub(crate) sip: SocketAddr,
    /// HTTP listen address.
    pub(crate) http: SocketAddr,
    /// Address in Via/Contact.
    pub(crate) advertise: IpAddr,
    /// Data directory.
    pub(crate) data_dir: PathBuf,
    /// Drain grace.
    pub(crate) drain_grace: Duration,
    /// Municipality name.
    pub(crate) municipality: String,
    /// SIP timers.
    pub(crate) timers: TimerConfig,
    /// Digest failure limit.
    pub(crate) max_auth_failures: u32,
    /// Digest algorithms in challenge order.
    pub(crate) digest_algorithms: Vec<Algorithm>,
    /// Call control.
    pub(crate) pbx: PbxConfig,
    /// How long conversation recordings are kept (retention).
    pub(crate) recording_keep: Duration,
    /// Holidays and closing days.
    pub(crate) calendar: calendar::Calendar,
    /// Deadline settings.
    pub(crate) deadline_rule: calendar::DeadlineRule,
    /// Departments with hours.
    pub(crate) departments: Vec<calendar::Department>,
    /// The switchboard's department id.
    pub(crate) switchboard: String,
    /// Employees, teams and coverage chains.
    pub(crate) organisation: policy::org::Organisation,
    /// Contact-centre queues and their forecasts.
    pub(crate) queues: crate::queues::QueuePlan,
    /// API bearer token (none: the API is off).
    pub(crate) api_token: Option<String>,
    /// Notification settings.
    pub(crate) notifications: crate::services_config::Notifications,
    /// Presence sources: schedules and calendar feeds.
    pub(crate) presence: crate::services_config::PresenceSources,
    /// The main number's menus, if configured.
    pub(crate) ivr: Option<crate::ivr_config::Ivr>,
    /// Where RTP sockets are bound (`None`: media not anchored).
    pub(crate) media_bind: Option<IpAddr>,
    /// Anchored media as configured (for what `serve` loads from disk).
    pub(crate) media: Option<crate::media_config::Media>,
}

impl Config {
    /// A department by id.
    pub(crate) fn department(&self, id: &str) -> Option<&calendar::Department> {
        self.departments.iter().find(|d| d.id == id)
    }
}

fn validate_organisation(
    raw: &RawConfig,
    departments: &[calendar::Department],
    switchboard: &str,
    errs: &mut Vec<String>,
) -> policy::org::Organisation {
    use policy::org::{Centre, Coverage, Employee, LastResort, OrgDepartment, Organisation, RingMode, Team};
    let exts: HashSet<&str> = raw.users.iter().map(|u| u.extension.as_str()).collect();
    let mut centres = Vec::new();
    for (i, c) in raw.centres.iter().enumerate() {
        if centres.iter().any(|x: &Centre| x.id == c.id) {
            errs.push(format!("centres[{i}] ({}): id used twice", c.id));
        }
        centres.push(Centre { id: c.id.clone(), name: c.name.clone() });
    }
    let mut org_departments = Vec::new();
    for d in departments {
        let centre = raw.departments.iter().find(|r| r.id == d.id).and_then(|r| r.centre.clone());
        if let Some(c) = &centre
            && !centres.iter().any(|x| &x.id == c)
        {
            errs.push(format!("departments ({}): centre {c:?} does not exist", d.id));
        }
        org_departments.push(OrgDepartment { id: d.id.clone(), name: d.name.clone(), centre });
    }
    let mut teams = Vec::new();
    let mut team_ids = HashSet::new();
    for (i, t) in raw.teams.iter().enumerate() {
        let at = format!("teams[{i}] ({})", t.id);
        if !team_ids.insert(t.id.as_str()) {
            errs.push(format!("{at}: id used twice"));
        }
        if !departments.iter().any(|d| d.id == t.department) {
            errs.push(format!("{at}: department {:?} does not exist", t.department));
        }
        if let Some(lead) = &t.lead
            && !exts.contains(lead.as_str())
        {
            errs.push(format!("{at}: lead {lead:?} is not a user"));
        }
        let mode = match t.ring.as_deref().unwrap_or("parallel") {
            "parallel" => RingMode::Parallel,
            "in-turn" => RingMode::InTurn,
            other => {
                errs.push(format!("{at}: ring {other:?} is not parallel or in-turn"));
                RingMode::Parallel
            }
        };
        teams.push(Team {
            id: t.id.clone(),
            name: t.name.clone(),
            department: t.department.clone(),
            lead: t.lead.clone(),
            mode,
        });
    }
    let mut employees = Vec::new();
    for (i, u) in raw.users.iter().enumerate() {
        let at = format!("users[{i}] ({})", u.extension);
        let Some(team) = &u.team else { continue };
        if !team_ids.contains(team.as_str()) {
            errs.push(format!("{at}: team {team:?} does not exist"));
        }
        for other in u.backup.iter().chain(u.colleagues.iter()) {
            if !exts.contains(other.as_str()) {
                errs.push(format!("{at}: colleague {other:?} is not a user"));
            } else if other == &u.extension {
                errs.push(format!("{at}: cannot cover for themselves"));
            }
        }
        for (skill, level) in &u.skills {
            if !(1..=5).contains(level) {
                errs.push(format!("{at}: skill {skill} level {level} is not 1-5"));
            }
        }
        let last = match u.last_resort.as_deref().unwrap_or("switchboard") {
            "switchboard" => LastResort::Switchboard,
            "voicemail" => LastResort::Voicemail,
            other => {
                errs.push(format!("{at}: last_resort {other:?} is not switchboard or voicemail"));
                LastResort::Switchboard
            }
        };
        employees.push(Employee {
            extension: u.extension.clone(),
            name: u.name.clone(),
            team: team.clone(),
            backup: u.backup.clone(),
            coverage: Coverage {
                ring_me_s: u.ring_s.unwrap_or(15),
                colleagues: u.colleagues.clone(),
                last,
                ..Coverage::default()
            },
            skills: u.skills.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            languages: u.languages.clone(),
            direct_number: raw
                .dids
                .iter()
                .find(|d| d.user.as_ref() == Some(&u.extension))
                .map(|d| pbx::numbers::normalise(&d.number)),
        });
    }
    Organisation { centres, departments: org_departments, employees, teams, switchboard: switchboard.to_owned() }
}

fn parse_time(s: &str) -> Option<jiff::civil::Time> {
    let (h, m) = s.trim().split_once(':')?;
    jiff::civil::Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

fn validate_calendar(
    raw: Option<&RawCalendar>,
    deps: &[RawDepartment],
    errs: &mut Vec<String>,
) -> (calendar::Calendar, calendar::DeadlineRule, Vec<calendar::Department>, String) {
    use calendar::{ClosingRule, DateRule, Department, Interval, WeeklyHours};
    use jiff::civil::Weekday;
    let mut closing = ClosingRule::defaults();
    if let Some(list) = raw.and_then(|c| c.closing_days.as_ref()) {
        closing.clear();
        for (i, c) in list.iter().enumerate() {
            let at = format!("calendar.closing_days[{i}] ({})", c.name);
            let rule = match (&c.date, c.easter_offset) {
                (Some(d), None) => {
                    let parsed =
                        d.split_once('-').and_then(|(m, d)| Some((m.parse::<i8>().ok()?, d.parse::<i8>().ok()?)));
                    match parsed {
                        Some((month, day)) if jiff::civil::Date::new(2024, month, day).is_ok() => {
                            DateRule::Fixed { month, day }
                        }
                        _ => {
                            errs.push(format!("{at}: date {d:?} is not MM-DD"));
                            continue;
                        }
                    }
                }
                (None, Some(n)) if (-60..=60).contains(&n) => DateRule::EasterOffset(n),
                (None, Some(n)) => {
                    errs.push(format!("{at}: easter_offset {n} is out of range (-60..60)"));
                    continue;
                }
                _ => {
                    errs.push(format!("{at}: give exactly one of date or easter_offset"));
                    continue;
                }
            };
            let from = match &c.from {
                Some(f) => match parse_time(f) {
                    Some(t) => Some(t),
                    None => {
                        errs.push(format!("{at}: from {f:?} is not HH:MM"));
                        None
                    }
                },
                None => None,
            };
            closing.push(ClosingRule { name_da: c.name.clone(), rule, from });
        }
    }
    let rule = calendar::DeadlineRule {
        count_receipt_day: raw.is_some_and(|c| c.count_receipt_day),
        closing_days_count_as_working: raw.is_some_and(|c| c.closing_days_count_as_working),
        ..calendar::DeadlineRule::default()
    };
    let mut departments = Vec::new();
    let mut ids = HashSet::new();
    for (i, d) in deps.iter().enumerate() {
        let at = format!("departments[{i}] ({})", d.id);
        if !ids.insert(d.id.clone()) {
            errs.push(format!("{at}: id used twice"));
        }
        let mut weekly = WeeklyHours::default();
        for (day, v) in [
            (Weekday::Monday, &d.mon),
            (Weekday::Tuesday, &d.tue),
            (Weekday::Wednesday, &d.wed),
            (Weekday::Thursday, &d.thu),
            (Weekday::Friday, &d.fri),
            (Weekday::Saturday, &d.sat),
            (Weekday::Sunday, &d.sun),
        ] {
            if let Some(v) = v {
                match Interval::parse_day(v) {
                    Ok(iv) => weekly = weekly.with(day, iv),
                    Err(e) => errs.push(format!("{at}: {e}")),
                }
            }
        }
        let mut overrides = std::collections::BTreeMap::new();
        for (date, hours) in &d.overrides {
            match (date.parse::<jiff::civil::Date>(), Interval::parse_day(hours)) {
                (Ok(date), Ok(iv)) => {
                    overrides.insert(date, iv);
                }
                (Err(_), _) => errs.push(format!("{at}: override date {date:?} is not YYYY-MM-DD")),
                (_, Err(e)) => errs.push(format!("{at}: override {date}: {e}")),
            }
        }
        departments.push(Department { id: d.id.clone(), name: d.name.clone(), weekly, overrides });
    }
    let switchboard = raw.and_then(|c| c.switchboard.clone()).unwrap_or_else(|| "omstillingen".to_owned());
    if !departments.iter().any(|d| d.id == switchboard) {
        if departments.is_empty() || raw.and_then(|c| c.switchboard.as_ref()).is_none() {
            // no departments configured: the demo switchboard hours of DOMAIN.md §1
            departments.push(Department::switchboard_default());
        } else {
            errs.push(format!("calendar.switchboard: department {switchboard:?} does not exist"));
        }
    }
    (calendar::Calendar::new(closing), rule, departments, switchboard)
}

/// Overrides from the command line.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    /// `--sip`
    pub(crate) sip: Option<String>,
    /// `--http`
    pub(crate) http: Option<String>,
    /// `--data-dir`
    pub(crate) data_dir: Option<String>,
}

/// Every problem in a configuration.
#[derive(Debug)]
pub(crate) struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} problem(s) in the configuration:", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Parse and validate TOML text.
pub(crate) fn load(text: &str, ov: &Overrides) -> Result<Config, ConfigErrors> {
    let raw: RawConfig =
        toml::from_str(text).map_err(|e| ConfigErrors(vec![format!("TOML: {}", e.to_string().trim())]))?;
    validate(raw, ov)
}

fn parse_addr(errs: &mut Vec<String>, what: &str, s: &str) -> Option<SocketAddr> {
    match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            errs.push(format!("{what}: {s:?} is not an address like 127.0.0.1:5060 or [::1]:5060"));
            None
        }
    }
}

/// Turn a raw config into a valid one, collecting every error.
pub(crate) fn validate(raw: RawConfig, ov: &Overrides) -> Result<Config, ConfigErrors> {
    let mut errs = Vec::new();
    let sip_s = ov.sip.clone().unwrap_or(raw.server.sip.clone());
    let http_s = ov.http.clone().unwrap_or(raw.server.http.clone());
    let sip = parse_addr(&mut errs, "server.sip", &sip_s);
    let http = parse_addr(&mut errs, "server.http", &http_s);
    let advertise = match &raw.server.advertise {
        Some(a) => {
            a.parse::<IpAddr>().map_err(|_| errs.push(format!("server.advertise: {a:?} is not an IP address"))).ok()
        }
        None => sip.map(|s| if s.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { s.ip() }),
    };
    let data_dir =
        PathBuf::from(ov.data_dir.clone().or(raw.server.data_dir.clone()).unwrap_or_else(|| "./data".to_owned()));

    let domain = raw.sip.domain.trim().to_owned();
    if domain.is_empty() || sip_msg::Host::parse(&domain).is_err() {
        errs.push(format!("sip.domain: {domain:?} is not a host name"));
    }
    let timers = TimerConfig {
        t1: Duration::from_millis(raw.sip.t1_ms.unwrap_or(500)),
        t2: Duration::from_millis(raw.sip.t2_ms.unwrap_or(4000)),
        t4: Duration::from_millis(raw.sip.t4_ms.unwrap_or(5000)),
    };
    if timers.t1.is_zero() || timers.t1 > timers.t2 {
        errs.push("sip.t1_ms must be above 0 and not above sip.t2_ms".into());
    }
    let registrar = RegistrarConfig {
        min_expires: raw.sip.min_expires.unwrap_or(60),
        max_expires: raw.sip.max_expires.unwrap_or(7200),
        default_expires: raw.sip.default_expires.unwrap_or(3600),
        max_contacts: 10,
    };
    if registrar.min_expires > registrar.max_expires {
        errs.push("sip.min_expires is above sip.max_expires".into());
    }
    if !(registrar.min_expires..=registrar.max_expires).contains(&registrar.default_expires) {
        errs.push("sip.default_expires must lie between min_expires and max_expires".into());
    }

    let mut digest_algorithms = Vec::new();
    for a in raw.sip.digest_algorithms.clone().unwrap_or_else(|| vec!["MD5".into()]) {
        match Algorithm::from_token(&a) {
            Some(alg) if !digest_algorithms.contains(&alg) => digest_algorithms.push(alg),
            Some(_) => errs.push(format!("sip.digest_algorithms: {a} listed twice")),
            None => errs.push(format!("sip.digest_algorithms: {a:?} is not MD5 or SHA-256")),
        }
    }
    if digest_algorithms.is_empty() {
        errs.push("sip.digest_algorithms: name at least one algorithm".into());
    }

    let mut users = Vec::new();
    let mut seen = HashSet::new();
    for (i, u) in raw.users.iter().enumerate() {
        let at = format!("users[{i}] ({})", u.extension);
        if u.extension.is_empty()
            || !u.extension.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_')
        {
            errs.push(format!("{at}: extension must be letters, digits, '.', '-' or '_'"));
        }
        if !seen.insert(u.extension.clone()) {
            errs.push(format!("{at}: extension used twice"));
        }
        if u.password.len() < 8 {
            errs.push(format!("{at}: password must have at least 8 characters"));
        }
        users.push(User {
            extension: u.extension.clone(),
            display: u.name.clone(),
            credentials: Credentials::from_password(&u.extension, &domain, &u.password),
            caller_id: u.caller_id.as_deref().map(normalise),
        });
    }

    let mut trunks = Vec::new();
    let mut trunk_names = HashSet::new();
    for (i, t) in raw.trunks.iter().enumerate() {
        let at = format!("trunks[{i}] ({})", t.name);
        if !trunk_names.insert(t.name.clone()) {
            errs.push(format!("{at}: name used twice"));
        }
        let proxy = parse_addr(&mut errs, &format!("{at}.proxy"), &t.proxy);
        let transport = match t.transport.as_deref().unwrap_or("udp") {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            other => {
                errs.push(format!("{at}.transport: {other:?} is not udp or tcp"));
                Transport::Udp
            }
        };
        let mut allowed_sources = Vec::new();
        for s in &t.allowed_sources {
            if let Ok(a) = s.parse::<SocketAddr>() {
                allowed_sources.push(SourceMatch { ip: a.ip(), port: Some(a.port()) });
            } else if let Ok(ip) = s.parse::<IpAddr>() {
                allowed_sources.push(SourceMatch { ip, port: None });
            } else {
                errs.push(format!("{at}.allowed_sources: {s:?} is not an IP or IP:port"));
            }
        }
        let credentials = match (&t.username, &t.password) {
            (Some(u), Some(p)) => Some(TrunkCredentials { username: u.clone(), password: p.clone() }),
            (None, None) => None,
            _ => {
                errs.push(format!("{at}: username and password go together"));
                None
            }
        };
        if t.register && credentials.is_none() {
            errs.push(format!("{at}: register = true needs username and password"));
        }
        if allowed_sources.is_empty() && credentials.is_none() {
            errs.push(format!("{at}: give allowed_sources (IP auth) or username/password (digest)"));
        }
        if let Some(proxy) = proxy {
            trunks.push(Trunk {
                name: t.name.clone(),
                proxy,
                transport,
                allowed_sources,
                credentials,
                register: t.register,
                default_caller_id: normalise(&t.caller_id),
            });
        }
    }

    let mut dids = Vec::new();
    let mut did_numbers = HashSet::new();
    for (i, d) in raw.dids.iter().enumerate() {
        let number = normalise(&d.number);
        if number.is_empty() {
            errs.push(format!("dids[{i}]: {:?} has no digits", d.number));
        }
        if !did_numbers.insert(number.clone()) {
            errs.push(format!("dids[{i}]: number {} used twice", d.number));
        }
        let target = match (&d.user, d.ivr) {
            (Some(u), false) => {
                if !seen.contains(u) {
                    errs.push(format!("dids[{i}]: user {u:?} does not exist"));
                }
                DidTarget::User(u.clone())
            }
            (None, true) => {
                if raw.ivr.is_none() {
                    errs.push(format!("dids[{i}]: ivr = true needs an [ivr] section"));
                }
                DidTarget::Ivr
            }
            _ => {
                errs.push(format!("dids[{i}]: give either user or ivr = true"));
                DidTarget::Ivr
            }
        };
        dids.push(Did { number, target });
    }

    let mut routes = Vec::new();
    for (i, r) in raw.routes.iter().enumerate() {
        let at = format!("routes[{i}] ({})", r.name);
        if !trunk_names.contains(&r.trunk) {
            errs.push(format!("{at}: trunk {:?} does not exist", r.trunk));
        }
        if r.patterns.is_empty() {
            errs.push(format!("{at}: needs at least one pattern"));
        }
        let mut patterns = Vec::new();
        for p in &r.patterns {
            match Pattern::parse(p) {
                Ok(p) => patterns.push(p),
                Err(e) => errs.push(format!("{at}: {e}")),
            }
        }
        routes.push(OutboundRoute {
            name: r.name.clone(),
            patterns,
            trunk: r.trunk.clone(),
            strip: r.strip,
            prepend: r.prepend.clone(),
            allow_international: r.allow_international,
            allow_premium: r.allow_premium,
        });
    }

    let (calendar, deadline_rule, departments, switchboard) =
        validate_calendar(raw.calendar.as_ref(), &raw.departments, &mut errs);
    let organisation = validate_organisation(&raw, &departments, &switchboard, &mut errs);
    let department_ids: Vec<String> = departments.iter().map(|d| d.id.clone()).collect();
    let queues = crate::queues::validate(&raw.queues, &raw.users, &raw.teams, &department_ids, &switchboard, &mut errs);
    let notifications =
        crate::services_config::validate(raw.notifications.as_ref(), &raw.users, &raw.teams, &domain, &mut errs);
    let presence = crate::services_config::validate_presence(raw.presence.as_ref(), &raw.users, &mut errs);
    let ivr = crate::ivr_config::validate(&raw, &department_ids, &switchboard, &routes, &mut errs);
    if ivr.is_some() && raw.media.as_ref().is_some_and(|m| m.anchor == Some(false)) {
        errs.push("ivr: the menus need anchored media (media.anchor = false turns it off)".into());
    }
    let media = crate::media_config::validate(raw.media.as_ref(), advertise, sip.map(|s| s.ip()), &mut errs);
    let keep_days = raw.recording.as_ref().and_then(|r| r.keep_days).unwrap_or(30);
    if keep_days == 0 {
        errs.push("recording.keep_days: at least 1 (recordings are deleted this many days after consent)".into());
    }
    let api_token = raw.api.as_ref().and_then(|a| a.token.clone());
    if api_token.as_ref().is_some_and(|t| t.len() < 16) {
        errs.push("api.token: use at least 16 characters".into());
    }

    if !errs.is_empty() {
        return Err(ConfigErrors(errs));
    }
    let (Some(sip), Some(http), Some(advertise)) = (sip, http, advertise) else {
        return Err(ConfigErrors(vec!["addresses missing".into()]));
    };
    let contact = SocketAddr::new(advertise, sip.port());
    Ok(Config {
        sip,
        http,
        advertise,
        data_dir,
        drain_grace: Duration::from_secs(raw.server.drain_grace_s.unwrap_or(30)),
        municipality: raw.municipality.name,
        timers,
        max_auth_failures: raw.sip.max_auth_failures.unwrap_or(10),
        digest_algorithms,
        pbx: PbxConfig {
            domain,
            users,
            trunks,
            dids,
            routes,
            ring_timeout: Duration::from_secs(raw.sip.ring_timeout_s.unwrap_or(30)),
            registrar,
            contact_addrs: vec![(Transport::Udp, contact), (Transport::Tcp, contact)],
            drain_retry_after: 60,
            media: media.as_ref().map(|m| m.settings.clone()),
            ivr: None,
            ivr_numbers: ivr.as_ref().map(|i| i.numbers.clone()).unwrap_or_default(),
            record_conversations: raw.recording.as_ref().is_some_and(|r| r.conversations),
            user_index: sip::fastmap::FastMap::default(),
        }
        .index(),
        recording_keep: Duration::from_secs(u64::from(keep_days) * 86_400),
        calendar,
        deadline_rule,
        departments,
        switchboard,
        organisation,
        queues,
        api_token,
        notifications,
        presence,
        ivr,
        media_bind: media.as_ref().map(|m| m.bind),
        media,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_config_is_valid() {
        let c = load(DEMO, &Overrides::default()).expect("demo config");
        assert!(c.pbx.users.len() >= 4);
        // the demo anchors media, answers its main number with the menus, records nothing
        let m = c.pbx.media.as_ref().expect("anchored by default");
        assert_eq!((m.first_port, m.last_port, m.timeout.as_secs()), (20_000, 39_999, 60));
        assert!(c.pbx.dids.iter().any(|d| d.target == pbx::config::DidTarget::Ivr));
        assert_eq!(c.pbx.ivr_numbers, vec!["100".to_owned()]);
        assert!(!c.pbx.record_conversations, "recording is off unless asked for");
    }

    #[test]
    fn media_recording_and_main_number_problems_are_all_listed() {
        let text = DEMO.replace(
            "[ivr]\n",
            "[media]\nanchor = false\nports = [80, 81]\ntimeout_s = 1\ncodecs = [\"G729\"]\nip = \"nowhere\"\n\n[recording]\nconversations = true\nkeep_days = 0\n\n[ivr]\n",
        ) + "\n[[dids]]\nnumber = \"+4570109999\"\nuser = \"1001\"\nivr = true\n";
        let err = load(&text, &Overrides::default()).expect_err("invalid").to_string();
        for needle in
            ["the menus need anchored media", "dids[", "give either user or ivr = true", "recording.keep_days"]
        {
            assert!(err.contains(needle), "{needle:?} missing in {err}");
        }
        let text = DEMO.replace(
            "[ivr]\n",
            "[media]\nports = [80, 81]\ntimeout_s = 1\ncodecs = [\"G729\"]\nip = \"nowhere\"\n\n[ivr]\n",
        );
        let err = load(&text, &Overrides::default()).expect_err("invalid").to_string();
        for needle in ["media.ports", "media.timeout_s", "\"G729\" is not a codec", "media.ip"] {
            assert!(err.contains(needle), "{needle:?} missing in {err}");
        }
        let on = DEMO.replace("[ivr]\n", "[recording]\nconversations = true\nkeep_days = 7\n\n[ivr]\n");
        let c = load(&on, &Overrides::default()).expect("valid");
        assert!(c.pbx.record_conversations);
        assert_eq!(c.recording_keep, Duration::from_secs(7 * 86_400));
        assert_eq!(load(DEMO, &Overrides::default()).expect("demo").recording_keep, Duration::from_secs(30 * 86_400));
    }

    #[test]
    fn an_external_menu_target_must_be_dialable_under_the_toll_fraud_rules() {
        let hoved = "\"2\" = \"operator\", \"3\" = \"operator\"";
        assert!(DEMO.contains(hoved));
        let text = DEMO.replace(hoved, "\"2\" = \"external:+49 30 123456\", \"3\" = \"external:+45 33 12 34 56\"");
        let err = load(&text, &Overrides::default()).expect_err("an international target").to_string();
        assert!(
            err.contains("external:+49 30 123456 cannot be dialled: Forbidden (international calls not allowed)"),
            "{err}"
        );
        assert!(!err.contains("+45 33 12 34 56"), "a Danish number the demo route takes is fine: {err}");
    }

    #[test]
    fn every_problem_is_listed() {
        let text = r#"
            [server]
            sip = "not-an-address"
            http = "127.0.0.1:8080"
            [sip]
            domain = "svar.example"
            min_expires = 9000
            [municipality]
            name = "X"
            [[users]]
            extension = "1001"
            name = "A"
            password = "short"
            [[users]]
            extension = "1001"
            name = "B"
            password = "longenough1"
            [[dids]]
            number = "+4511111111"
            user = "9999"
            [[routes]]
            name = "r"
            patterns = ["4a"]
            trunk = "missing"
            [calendar]
            switchboard = "nowhere"
            [[calendar.closing_days]]
            name = "bad"
            date = "13-45"
            [[departments]]
            id = "d"
            name = "D"
            mon = "15:00-09:00"
            centre = "nocentre"
            [[teams]]
            id = "t"
            name = "T"
            department = "nodept"
            lead = "7777"
            email = "not an address"
            [api]
            token = "short"
            [notifications]
            smtp = "mail"
            sms_url = "https://gateway.example/sms"
        "#;
        let e = load(text, &Overrides::default()).expect_err("invalid");
        let all = e.to_string();
        for needle in [
            "server.sip",
            "min_expires",
            "password",
            "used twice",
            "9999",
            "trunk \"missing\"",
            "dial pattern",
            "centre \"nocentre\"",
            "email",
            "api.token",
            "notifications.smtp",
            "notifications.sms_url",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert!(e.0.len() >= 7, "{all}");
    }

    #[test]
    fn the_demo_organisation_has_teams_and_coverage() {
        let c = load(DEMO, &Overrides::default()).expect("demo");
        let anne = c.organisation.employee("1001").expect("1001 in a team");
        assert_eq!(anne.backup.as_deref(), Some("1002"));
        assert!(!anne.coverage.colleagues.is_empty());
        assert!(c.organisation.team(&anne.team).is_some());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = DEMO.replace("[server]", "[server]\nsurprise = 1");
        let e = load(&text, &Overrides::default()).expect_err("unknown field");
        assert!(e.to_string().contains("surprise"), "{e}");
    }

    #[test]
    fn overrides_win() {
        let c =
            load(DEMO, &Overrides { sip: Some("127.0.0.1:5999".into()), http: None, data_dir: Some("/tmp/x".into()) })
                .expect("ok");
        assert_eq!(c.sip.port(), 5999);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }
}
