//! The main number answered by svar itself: the menus, their prompts in memory, the
//! numbers that reach them, and where each IVR target rings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use media::prompt::Prompt;
use media::record::RecordLimits;

/// Everything call control needs to run the IVR on live calls.
#[derive(Debug, Clone)]
pub struct IvrSetup {
    /// The validated menus.
    pub menus: Arc<ivr::IvrConfig>,
    /// Language callers start in.
    pub language: String,
    /// Prompts by (language, name), loaded once for all calls.
    pub prompts: HashMap<(String, String), Prompt>,
    /// Extensions each target rings (`user:1001`, `team:byggesag`, `queue:borgerservice`,
    /// `switchboard`), resolved from the organisation at load.
    pub rings: HashMap<String, Vec<String>>,
    /// The message owner when a target does not answer (`employee:1001`, `team:…`,
    /// `department:…`): P1, a message rather than a lost call.
    pub owners: HashMap<String, String>,
    /// Owner of messages left when the switchboard itself does not answer.
    pub last_resort_owner: String,
    /// Message length and silence limits.
    pub record_limits: RecordLimits,
    /// How long an IVR transfer rings before the caller is offered a message.
    pub transfer_timeout: Duration,
    /// The municipality's calendar: which departments are closed when a caller arrives
    /// (the menus' time conditions) and the callback date read out after a message.
    pub calendar: Option<Arc<IvrCalendar>>,
}

/// The calendar facts the IVR needs.
#[derive(Debug, Clone)]
pub struct IvrCalendar {
    /// Closing days and the time zone.
    pub calendar: calendar::Calendar,
    /// Departments with their phone hours.
    pub departments: Vec<calendar::Department>,
    /// The deadline rule (two working days).
    pub rule: calendar::DeadlineRule,
    /// A message owner's department (`employee:…`, `team:…` → department id).
    pub owner_departments: HashMap<String, String>,
    /// The switchboard's department, for owners without one.
    pub switchboard: String,
}

impl IvrCalendar {
    /// Departments closed at `at`.
    #[must_use]
    pub fn closed(&self, at: jiff::Timestamp) -> std::collections::HashSet<String> {
        self.departments
            .iter()
            .filter(|d| matches!(self.calendar.openness(d, at), calendar::Openness::Closed { .. }))
            .map(|d| d.id.clone())
            .collect()
    }

    /// The last day a message for `owner` received at `at` may be answered.
    #[must_use]
    pub fn callback_by(&self, owner: &str, at: jiff::Timestamp) -> Option<jiff::civil::Date> {
        let dept_id = self
            .owner_departments
            .get(owner)
            .map(String::as_str)
            .or_else(|| owner.strip_prefix("department:"))
            .unwrap_or(&self.switchboard);
        let dept = self
            .departments
            .iter()
            .find(|d| d.id == dept_id)
            .or_else(|| self.departments.iter().find(|d| d.id == self.switchboard))?;
        Some(self.calendar.deadline(at, dept, &self.rule).due_date)
    }
}

impl IvrSetup {
    /// A prompt in a language, falling back to the start language.
    #[must_use]
    pub fn prompt(&self, lang: &str, name: &str) -> Option<&Prompt> {
        self.prompts
            .get(&(lang.to_owned(), name.to_owned()))
            .or_else(|| self.prompts.get(&(self.language.clone(), name.to_owned())))
    }
}

/// The key of a target in [`IvrSetup::rings`] and [`IvrSetup::owners`].
#[must_use]
pub fn target_key(t: &ivr::Target) -> String {
    match t {
        ivr::Target::User(u) => format!("user:{u}"),
        ivr::Target::Team(x) => format!("team:{x}"),
        ivr::Target::Queue(q) => format!("queue:{q}"),
        ivr::Target::External(n) => format!("external:{n}"),
        ivr::Target::Switchboard => "switchboard".to_owned(),
    }
}

/// A message a caller left, for the obligation ledger (P1: called back within two
/// working days).
#[derive(Debug, Clone)]
pub struct RecordedMessage {
    /// The caller's leg Call-ID (the call record's id).
    pub call_id: String,
    /// The caller's number.
    pub caller: String,
    /// `employee:…`, `team:…` or `department:…`.
    pub owner: String,
    /// The WAV file's bytes.
    pub wav: Vec<u8>,
    /// Its length.
    pub length: Duration,
}

/// A conversation recorded with the caller's consent, for training (DOMAIN.md): kept
/// with the consent event.
#[derive(Debug, Clone)]
pub struct ConversationRecording {
    /// The caller's leg Call-ID (the call record's id).
    pub call_id: String,
    /// The caller's number.
    pub caller: String,
    /// When the caller gave consent (Unix ms), and how.
    pub consent_ms: i64,
    /// How consent was given.
    pub consent: String,
    /// The WAV file's bytes (stereo: caller left, employee right).
    pub wav: Vec<u8>,
    /// Its length.
    pub length: Duration,
}

/// A caller withdrew consent during the conversation: what was recorded is discarded;
/// the consent and its withdrawal are kept as the record of what happened (DOMAIN.md:
/// "withdrawal possible").
#[derive(Debug, Clone)]
pub struct ConsentWithdrawn {
    /// The caller's leg Call-ID (the call record's id).
    pub call_id: String,
    /// The caller's number.
    pub caller: String,
    /// When the caller gave consent (Unix ms).
    pub consent_ms: i64,
    /// When the caller withdrew it (Unix ms).
    pub withdrawn_ms: i64,
}

/// What svar recorded, to be stored.
#[derive(Debug, Clone)]
pub enum Recording {
    /// A message for an owner (becomes an obligation).
    Message(RecordedMessage),
    /// A conversation, with consent.
    Conversation(ConversationRecording),
    /// Consent withdrawn: no recording of this call exists.
    Withdrawn(ConsentWithdrawn),
}
