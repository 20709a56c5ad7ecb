//! The obligation ledger as a running service: one task owns the ledger and the
//! notification outbox, applies commands in batches and answers each only after the
//! batch's transaction committed (group commit). What was acknowledged survives a crash.
//! Due notifications are sent by short tasks (SMTP, SMS webhook) whose results come back
//! here; escalation runs every minute.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use policy::notify::{self, Channel, Delivery, Notification, NotificationId, Outbox};
use policy::{AuditEntry, Ledger, LedgerError, NewObligation, Obligation, ObligationId, Owner, Source};
use sip_msg::Pii;
use store::ObligationStore;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::http_client::HttpClient;

/// Commands per transaction at most.
const BATCH: usize = 256;

/// A new obligation, as the API receives it.
#[derive(Debug, Clone)]
pub(crate) struct Create {
    pub(crate) caller: String,
    pub(crate) owner: Owner,
    pub(crate) source: Source,
    pub(crate) topic: Option<String>,
    pub(crate) case_ref: Option<String>,
}

/// A transition.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Start,
    Attempt { reached: bool },
    Complete,
    Cancel { reason: String },
    Reassign { to: Owner },
}

/// What a command can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ServiceError {
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    #[error("unknown owner {0}")]
    UnknownOwner(String),
    #[error("the store failed; nothing was changed: {0}")]
    Store(String),
    #[error("the ledger service has stopped")]
    Stopped,
}

type Reply<T> = oneshot::Sender<Result<T, ServiceError>>;

enum Command {
    Create { new: Create, by: String, reply: Reply<(Obligation, bool)> },
    Read { id: ObligationId, by: String, reply: Reply<(Obligation, Vec<AuditEntry>)> },
    OpenFor { owner: Owner, by: String, reply: Reply<Vec<Obligation>> },
    Act { id: ObligationId, action: Action, by: String, reply: Reply<Obligation> },
    Notifications { only_failed: bool, reply: Reply<Vec<Notification>> },
    OwnerAbsent { employee: String, backup: Option<String>, team: String, reply: Reply<Vec<ObligationId>> },
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct NotifyMetrics {
    pub(crate) sent: AtomicU64,
    pub(crate) failed_attempts: AtomicU64,
    pub(crate) given_up: AtomicU64,
    pub(crate) pending: AtomicU64,
    pub(crate) obligations_open: AtomicU64,
    pub(crate) feed_failures: AtomicU64,
}

/// The API's handle on the service.
#[derive(Debug, Clone)]
pub(crate) struct LedgerHandle {
    tx: mpsc::Sender<Command>,
    pub(crate) metrics: Arc<NotifyMetrics>,
}

impl LedgerHandle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ServiceError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| ServiceError::Stopped)?;
        rx.await.map_err(|_| ServiceError::Stopped)?
    }

    /// Record a missed call or message; returns the obligation and whether it is new
    /// (a repeat call folds into the caller's open one).
    pub(crate) async fn create(&self, new: Create, by: String) -> Result<(Obligation, bool), ServiceError> {
        self.ask(|reply| Command::Create { new, by, reply }).await
    }

    /// One obligation and its audit trail; the read itself is audited first.
    pub(crate) async fn read(
        &self,
        id: ObligationId,
        by: String,
    ) -> Result<(Obligation, Vec<AuditEntry>), ServiceError> {
        self.ask(|reply| Command::Read { id, by, reply }).await
    }

    /// An owner's open obligations, most urgent first; each read is audited.
    pub(crate) async fn open_for(&self, owner: Owner, by: String) -> Result<Vec<Obligation>, ServiceError> {
        self.ask(|reply| Command::OpenFor { owner, by, reply }).await
    }

    /// A transition.
    pub(crate) async fn act(&self, id: ObligationId, action: Action, by: String) -> Result<Obligation, ServiceError> {
        self.ask(|reply| Command::Act { id, action, by, reply }).await
    }

    /// An employee is away for real (ill, on holiday): their open obligations go to
    /// their backup, or else their team, and the new owners are told.
    pub(crate) async fn owner_absent(
        &self,
        employee: String,
        backup: Option<String>,
        team: String,
    ) -> Result<Vec<ObligationId>, ServiceError> {
        self.ask(|reply| Command::OwnerAbsent { employee, backup, team, reply }).await
    }

    /// Notifications (all, or those given up on).
    pub(crate) async fn notifications(&self, only_failed: bool) -> Result<Vec<Notification>, ServiceError> {
        self.ask(|reply| Command::Notifications { only_failed, reply }).await
    }
}

struct Service<S> {
    store: S,
    cfg: Arc<Config>,
    ledger: Ledger,
    outbox: Outbox,
    http: HttpClient,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    results: mpsc::UnboundedSender<(NotificationId, Result<(), String>)>,
    metrics: Arc<NotifyMetrics>,
}

/// Load the ledger and outbox from the store and start the service.
///
/// # Errors
/// The store cannot be read.
pub(crate) async fn start<S: ObligationStore + Clone>(
    store: S,
    cfg: Arc<Config>,
) -> anyhow::Result<(LedgerHandle, tokio::task::JoinHandle<()>)> {
    let ledger = Ledger::restore(store.load_obligations().await?);
    let outbox = Outbox::restore(cfg.notifications.retry, store.load_notifications().await?);
    let smtp = cfg.notifications.smtp.map(|addr| {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
            .port(addr.port())
            .timeout(Some(Duration::from_secs(10)))
            .build()
    });
    let from: Mailbox = cfg
        .notifications
        .from
        .parse()
        .map_err(|e| anyhow::anyhow!("notifications.from {:?}: {e}", cfg.notifications.from))?;
    let (tx, rx) = mpsc::channel(1024);
    let (results, results_rx) = mpsc::unbounded_channel();
    let metrics = Arc::new(NotifyMetrics::default());
    let mut service =
        Service { store, cfg, ledger, outbox, http: HttpClient::new(), smtp, from, results, metrics: metrics.clone() };
    service.update_gauges();
    info!(
        obligations = service.ledger.all().count(),
        pending_notifications = service.outbox.pending_count(),
        "obligation ledger loaded"
    );
    if service.smtp.is_none() {
        info!("e-mail notifications are off: no [notifications] smtp relay configured");
    }
    if service.cfg.notifications.sms_url.is_none() {
        info!("SMS receipts are off: no [notifications] sms_url configured");
    }
    let task = tokio::spawn(async move { service.run(rx, results_rx).await });
    Ok((LedgerHandle { tx, metrics }, task))
}

fn owner_key(o: &Owner) -> String {
    match o {
        Owner::Employee(e) => format!("employee:{e}"),
        Owner::Team(t) => format!("team:{t}"),
        Owner::Department(d) => format!("department:{d}"),
    }
}

impl<S: ObligationStore> Service<S> {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Command>,
        mut results_rx: mpsc::UnboundedReceiver<(NotificationId, Result<(), String>)>,
    ) {
        let mut escalation = tokio::time::interval(Duration::from_secs(60));
        loop {
            let wake = self.outbox.next_wakeup().map(|at| {
                let wait = Timestamp::now().duration_until(at).as_secs().max(0) as u64;
                tokio::time::Instant::now() + Duration::from_millis(wait * 1000 + 10)
            });
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    let mut batch = vec![cmd];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(c) => batch.push(c),
                            Err(_) => break,
                        }
                    }
                    self.apply(batch).await;
                }
                Some(result) = results_rx.recv() => {
                    let mut results = vec![result];
                    while let Ok(r) = results_rx.try_recv() {
                        results.push(r);
                    }
                    self.record_results(results).await;
                }
                _ = escalation.tick() => self.escalate().await,
                () = async { if let Some(at) = wake { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {}
            }
            self.send_due();
        }
    }

    fn update_gauges(&self) {
        self.metrics.pending.store(self.outbox.pending_count() as u64, Ordering::Relaxed);
        let open = self.ledger.all().filter(|o| !o.state.is_final()).count() as u64;
        self.metrics.obligations_open.store(open, Ordering::Relaxed);
    }

    /// Persist the ledger's and outbox's changes; on failure, reload both from the
    /// store so memory never holds what the store does not.
    async fn commit(&mut self, touched: &BTreeSet<ObligationId>) -> Result<(), ServiceError> {
        let obligations: Vec<Obligation> = touched.iter().filter_map(|id| self.ledger.get(*id).cloned()).collect();
        let audit = self.ledger.drain_audit();
        let notifications = self.outbox.drain_changed();
        match self.store.save_obligations(&obligations, &audit, &notifications).await {
            Ok(()) => {
                self.update_gauges();
                Ok(())
            }
            Err(e) => {
                error!(error = %e, "store write failed; reloading the ledger from the store");
                if let (Ok(o), Ok(n)) = (self.store.load_obligations().await, self.store.load_notifications().await) {
                    self.ledger = Ledger::restore(o);
                    self.outbox = Outbox::restore(self.cfg.notifications.retry, n);
                }
                Err(ServiceError::Store(e.to_string()))
            }
        }
    }

    fn department_of(&self, owner: &Owner) -> Option<&calendar::Department> {
        let org = &self.cfg.organisation;
        let dept = match owner {
            Owner::Employee(e) => org.team(&org.employee(e)?.team)?.department.clone(),
            Owner::Team(t) => org.team(t)?.department.clone(),
            Owner::Department(d) => d.clone(),
        };
        self.cfg.department(&dept)
    }

    fn owner_exists(&self, owner: &Owner) -> bool {
        let org = &self.cfg.organisation;
        match owner {
            Owner::Employee(e) => org.employee(e).is_some() || self.cfg.pbx.users.iter().any(|u| &u.extension == e),
            Owner::Team(t) => org.team(t).is_some(),
            Owner::Department(d) => self.cfg.department(d).is_some(),
        }
    }

    /// Who hears of an escalation: the owner's team lead at 75 %, the supervisor at breach.
    fn escalation_address(&self, o: &Obligation, level: policy::Escalation) -> Option<String> {
        let org = &self.cfg.organisation;
        match level {
            policy::Escalation::Supervisor => self.cfg.notifications.supervisor.clone(),
            policy::Escalation::TeamLead => {
                let team = match &o.owner {
                    Owner::Employee(e) => org.team(&org.employee(e)?.team)?,
                    Owner::Team(t) => org.team(t)?,
                    Owner::Department(_) => return None,
                };
                self.cfg.notifications.emails.get(&format!("employee:{}", team.lead.as_ref()?)).cloned()
            }
            policy::Escalation::None => None,
        }
    }

    fn notify_owner(&mut self, o: &Obligation, reassigned: bool, now: Timestamp) {
        if self.smtp.is_none() {
            return; // e-mail is off (said once at start)
        }
        let Some(to) = self.cfg.notifications.emails.get(&owner_key(&o.owner)).cloned() else {
            warn!(obligation = o.id.0, owner = %Pii(owner_key(&o.owner)), "owner has no e-mail address; not told by e-mail");
            return;
        };
        let (subject, body) = notify::owner_email(o, reassigned, self.cfg.calendar.tz());
        self.outbox.enqueue(o.id, Channel::Email { to }, subject, body, now);
    }

    fn apply_one(&mut self, cmd: Command, now: Timestamp, touched: &mut BTreeSet<ObligationId>) -> Option<Pending> {
        match cmd {
            Command::Create { new, by, reply } => {
                if !self.owner_exists(&new.owner) {
                    let _ = reply.send(Err(ServiceError::UnknownOwner(owner_key(&new.owner))));
                    return None;
                }
                let switchboard = self.cfg.department(&self.cfg.switchboard);
                let Some(dept) = self.department_of(&new.owner).or(switchboard) else {
                    let _ = reply.send(Err(ServiceError::UnknownOwner(owner_key(&new.owner))));
                    return None;
                };
                let deadline = self.cfg.calendar.deadline(now, dept, &self.cfg.deadline_rule).deadline.timestamp();
                let caller = new.caller.clone();
                let (id, is_new) = self.ledger.record(
                    NewObligation {
                        caller: new.caller,
                        owner: new.owner,
                        source: new.source,
                        topic: new.topic,
                        case_ref: new.case_ref,
                        at: now,
                        deadline,
                    },
                    &by,
                );
                touched.insert(id);
                if is_new && let Some(o) = self.ledger.get(id).cloned() {
                    self.notify_owner(&o, false, now);
                    if self.cfg.notifications.sms_url.is_some() && notify::can_receive_sms(&caller) {
                        let text = notify::receipt_text(&self.cfg.municipality, deadline, self.cfg.calendar.tz());
                        self.outbox.enqueue(id, Channel::Sms { to: caller }, String::new(), text, now);
                    }
                }
                Some(Pending::Created(id, is_new, reply))
            }
            Command::Read { id, by, reply } => match self.ledger.read(id, now, &by) {
                Ok(()) => {
                    touched.insert(id);
                    Some(Pending::Read(id, reply))
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    None
                }
            },
            Command::OpenFor { owner, by, reply } => {
                let mut open: Vec<Obligation> = self.ledger.open_for(&owner).into_iter().cloned().collect();
                open.sort_by_key(|o| (o.deadline, o.id));
                for o in &open {
                    let _ = self.ledger.read(o.id, now, &by);
                    touched.insert(o.id);
                }
                Some(Pending::List(open, reply))
            }
            Command::Act { id, action, by, reply } => {
                let result = match &action {
                    Action::Start => self.ledger.start(id, now, &by),
                    Action::Attempt { reached } => self.ledger.attempt(id, now, &by, *reached),
                    Action::Complete => self.ledger.complete(id, now, &by),
                    Action::Cancel { reason } => self.ledger.cancel(id, now, &by, reason),
                    Action::Reassign { to } if !self.owner_exists(to) => {
                        let _ = reply.send(Err(ServiceError::UnknownOwner(owner_key(to))));
                        return None;
                    }
                    Action::Reassign { to } => self.ledger.reassign(id, to.clone(), now, &by),
                };
                match result {
                    Ok(()) => {
                        touched.insert(id);
                        if matches!(action, Action::Reassign { .. })
                            && let Some(o) = self.ledger.get(id).cloned()
                        {
                            self.notify_owner(&o, true, now);
                        }
                        Some(Pending::Acted(id, reply))
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                        None
                    }
                }
            }
            Command::OwnerAbsent { employee, backup, team, reply } => {
                let moved = self.ledger.owner_absent(&employee, backup.as_deref(), &team, now);
                for id in &moved {
                    touched.insert(*id);
                    if let Some(o) = self.ledger.get(*id).cloned() {
                        self.notify_owner(&o, true, now);
                    }
                }
                if !moved.is_empty() {
                    info!(employee = %Pii(employee.clone()), moved = moved.len(), "obligations reassigned: owner absent");
                }
                Some(Pending::Moved(moved, reply))
            }
            Command::Notifications { only_failed, reply } => {
                let list: Vec<Notification> = if only_failed {
                    self.outbox.failed().cloned().collect()
                } else {
                    let mut all = Vec::new();
                    for o in self.ledger.all() {
                        all.extend(self.outbox.about(o.id).cloned());
                    }
                    all
                };
                let _ = reply.send(Ok(list));
                None
            }
        }
    }

    async fn apply(&mut self, batch: Vec<Command>) {
        let now = Timestamp::now();
        let mut touched = BTreeSet::new();
        let pending: Vec<Pending> = batch.into_iter().filter_map(|c| self.apply_one(c, now, &mut touched)).collect();
        if pending.is_empty() {
            return;
        }
        let committed = self.commit(&touched).await;
        for p in pending {
            p.answer(&committed, self).await;
        }
    }

    async fn record_results(&mut self, results: Vec<(NotificationId, Result<(), String>)>) {
        let now = Timestamp::now();
        let mut touched = BTreeSet::new();
        for (id, result) in results {
            match result {
                Ok(()) => {
                    self.metrics.sent.fetch_add(1, Ordering::Relaxed);
                    self.outbox.delivered(id, now);
                }
                Err(e) => {
                    self.metrics.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    self.outbox.attempt_failed(id, e.clone(), now);
                    if let Some(n) = self.outbox.get(id)
                        && matches!(n.delivery, Delivery::Failed { .. })
                    {
                        self.metrics.given_up.fetch_add(1, Ordering::Relaxed);
                        error!(notification = id.0, obligation = n.obligation.0, error = %e, "notification given up after its last attempt");
                    } else {
                        warn!(notification = id.0, error = %e, "notification attempt failed; will retry");
                    }
                }
            }
            if let Some(n) = self.outbox.get(id) {
                touched.insert(n.obligation);
            }
        }
        touched.clear(); // results change notifications only
        let _ = self.commit(&touched).await;
    }

    async fn escalate(&mut self) {
        let changed = self.ledger.escalate(Timestamp::now());
        if changed.is_empty() {
            return;
        }
        let touched: BTreeSet<ObligationId> = changed.iter().map(|c| c.0).collect();
        let now = Timestamp::now();
        for (id, level) in &changed {
            info!(obligation = id.0, level = ?level, "obligation escalated");
            if let Some(o) = self.ledger.get(*id).cloned()
                && let Some(to) = self.escalation_address(&o, *level)
                && self.smtp.is_some()
            {
                let (subject, body) = notify::escalation_email(&o, *level, self.cfg.calendar.tz());
                self.outbox.enqueue(o.id, Channel::Email { to }, subject, body, now);
            }
        }
        let _ = self.commit(&touched).await;
    }

    /// Hand due notifications to sending tasks.
    fn send_due(&mut self) {
        let due = self.outbox.due(Timestamp::now());
        for n in due {
            let results = self.results.clone();
            match &n.channel {
                Channel::Email { to } => {
                    let Some(smtp) = self.smtp.clone() else {
                        let _ = results.send((n.id, Err("no SMTP relay configured".into())));
                        continue;
                    };
                    let message = Message::builder()
                        .from(self.from.clone())
                        .to(match to.parse() {
                            Ok(a) => a,
                            Err(e) => {
                                let _ = results.send((n.id, Err(format!("bad address: {e}"))));
                                continue;
                            }
                        })
                        .subject(n.subject.clone())
                        .header(ContentType::TEXT_PLAIN)
                        .body(n.body.clone());
                    tokio::spawn(async move {
                        let result = match message {
                            Ok(m) => smtp.send(m).await.map(|_| ()).map_err(|e| format!("smtp: {e}")),
                            Err(e) => Err(format!("message: {e}")),
                        };
                        let _ = results.send((n.id, result));
                    });
                }
                Channel::Sms { to } => {
                    let Some(url) = self.cfg.notifications.sms_url.clone() else {
                        let _ = results.send((n.id, Err("no SMS gateway configured".into())));
                        continue;
                    };
                    let http = self.http.clone();
                    let token = self.cfg.notifications.sms_token.clone();
                    let body = serde_json::json!({ "to": to, "text": n.body }).to_string();
                    let masked = Pii(to.clone());
                    tokio::spawn(async move {
                        let result = match http.post_json(&url, body, token.as_deref()).await {
                            Ok(s) if s.is_success() => Ok(()),
                            Ok(s) => Err(format!("SMS gateway answered {s}")),
                            Err(e) => Err(format!("SMS gateway: {e:#}")),
                        };
                        if let Err(e) = &result {
                            warn!(to = %masked, error = %e, "SMS receipt not delivered");
                        }
                        let _ = results.send((n.id, result));
                    });
                }
            }
        }
    }
}

/// A command applied in memory, answered once its batch is committed.
enum Pending {
    Created(ObligationId, bool, Reply<(Obligation, bool)>),
    Read(ObligationId, Reply<(Obligation, Vec<AuditEntry>)>),
    List(Vec<Obligation>, Reply<Vec<Obligation>>),
    Acted(ObligationId, Reply<Obligation>),
    Moved(Vec<ObligationId>, Reply<Vec<ObligationId>>),
}

impl Pending {
    async fn answer<S: ObligationStore>(self, committed: &Result<(), ServiceError>, s: &Service<S>) {
        let get = |id: ObligationId| s.ledger.get(id).cloned().ok_or(ServiceError::Ledger(LedgerError::NotFound(id)));
        match self {
            Self::Created(id, is_new, reply) => {
                let _ = reply.send(committed.clone().and_then(|()| get(id)).map(|o| (o, is_new)));
            }
            Self::Read(id, reply) => {
                let result = match committed.clone().and_then(|()| get(id)) {
                    Ok(o) => match s.store.audit_of(id).await {
                        Ok(trail) => Ok((o, trail)),
                        Err(e) => Err(ServiceError::Store(e.to_string())),
                    },
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Self::List(list, reply) => {
                let _ = reply.send(committed.clone().map(|()| list));
            }
            Self::Acted(id, reply) => {
                let _ = reply.send(committed.clone().and_then(|()| get(id)));
            }
            Self::Moved(ids, reply) => {
                let _ = reply.send(committed.clone().map(|()| ids));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEMO, Overrides, load};
    use jiff::SignedDuration;

    #[tokio::test]
    async fn escalation_tells_the_team_lead_then_the_supervisor() {
        let text = DEMO.replace(
            "[notifications]\nfrom = \"svar@egeskov.example\"\n",
            "[notifications]\nfrom = \"svar@egeskov.example\"\nsmtp = \"127.0.0.1:25\"\nsupervisor = \"tilsyn@egeskov.example\"\n",
        ) + "\n[[users]]\nextension = \"1005\"\nname = \"Lis Leder\"\npassword = \"demo-lis-1005\"\nteam = \"byggesag\"\nemail = \"lis@egeskov.example\"\n";
        let text = text.replace("lead = \"1003\"", "lead = \"1005\"");
        let cfg = Arc::new(load(&text, &Overrides::default()).expect("config"));
        let dir = std::env::temp_dir().join(format!("svar-escalate-{}", std::process::id()));
        let store = store_sqlite::SqliteStore::open_dir(&dir).await.expect("store");
        let (results, _results_rx) = mpsc::unbounded_channel();
        let mut service = Service {
            store,
            ledger: Ledger::new(),
            outbox: Outbox::new(cfg.notifications.retry),
            http: HttpClient::new(),
            smtp: Some(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").build()),
            from: "svar@egeskov.example".parse().expect("address"),
            results,
            metrics: Arc::new(NotifyMetrics::default()),
            cfg,
        };
        let now = Timestamp::now();
        let new = |caller: &str, created: Timestamp, deadline: Timestamp| NewObligation {
            caller: caller.into(),
            owner: Owner::Employee("1001".into()),
            source: Source::NoAnswer,
            topic: None,
            case_ref: None,
            at: created,
            deadline,
        };
        // 80 % of its window gone: the team lead hears; past its deadline: the supervisor.
        let (late, _) = service.ledger.record(
            new("+4520000001", now - SignedDuration::from_hours(8), now + SignedDuration::from_hours(2)),
            "svar",
        );
        let (missed, _) = service.ledger.record(
            new("+4520000002", now - SignedDuration::from_hours(50), now - SignedDuration::from_hours(1)),
            "svar",
        );
        service.escalate().await;
        let to = |id| -> Vec<String> {
            service
                .outbox
                .about(id)
                .filter_map(|n| match &n.channel {
                    Channel::Email { to } => Some(format!("{to}: {}", n.subject)),
                    Channel::Sms { .. } => None,
                })
                .collect()
        };
        assert_eq!(to(late), vec![format!("lis@egeskov.example: Fristen nærmer sig: opgave {}", late.0)]);
        assert_eq!(to(missed), vec![format!("tilsyn@egeskov.example: Fristen er overskredet: opgave {}", missed.0)]);
        // Stored with the obligations' new escalation level.
        let stored = service.store.load_notifications().await.expect("load");
        assert_eq!(stored.len(), 2);
        std::fs::remove_dir_all(dir).ok();
    }
}
