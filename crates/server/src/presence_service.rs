//! Presence in the running system: the board (set by hand, schedules, calendar feeds)
//! shared with the API; calendar feeds re-read periodically (a failed read keeps the last
//! good feed and says so); and a watcher that hands an employee's open obligations to
//! their backup or team when they become ill or go on holiday.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use policy::org::Presence;
use policy::presence::{ManualPresence, PresenceBoard, Status};
use sip_msg::Pii;
use store::{PresenceStore, StoreError};
use store_sqlite::SqliteStore;
use tokio::sync::{Mutex, RwLock};
use tracing::{info, warn};

use crate::config::Config;
use crate::http_client::HttpClient;
use crate::ledger_service::LedgerHandle;
use crate::services_config::FeedSource;

/// What the API uses.
#[derive(Debug, Clone)]
pub(crate) struct PresenceHandle {
    board: Arc<RwLock<PresenceBoard>>,
    store: SqliteStore,
    ledger: LedgerHandle,
    /// Per employee: backup and team, for reassignment.
    cover: Arc<HashMap<String, (Option<String>, String)>>,
    /// Employees whose obligations were already handed over during this absence.
    handed_over: Arc<Mutex<HashSet<String>>>,
}

/// An absence that moves obligations: ill or on holiday. Away and off duty are short;
/// the employee is back before a callback is due.
fn hands_over(p: &Presence) -> bool {
    matches!(p, Presence::Ill { .. } | Presence::Holiday { .. })
}

impl PresenceHandle {
    /// Everyone's status now.
    pub(crate) async fn all(&self, employees: &[String]) -> Vec<(String, Status, Option<String>)> {
        let now = Timestamp::now();
        let board = self.board.read().await;
        employees
            .iter()
            .map(|e| {
                let s = board.status(e, now);
                let text = board.back_text(&s, now);
                (e.clone(), s, text)
            })
            .collect()
    }

    /// One employee's status now.
    pub(crate) async fn status(&self, employee: &str) -> (Status, Option<String>) {
        let now = Timestamp::now();
        let board = self.board.read().await;
        let s = board.status(employee, now);
        let text = board.back_text(&s, now);
        (s, text)
    }

    /// Set a presence by hand; stored before it applies.
    pub(crate) async fn set(&self, entry: ManualPresence) -> Result<(), StoreError> {
        self.store.save_presence(&entry).await?;
        let employee = entry.employee.clone();
        self.board.write().await.set_manual(entry);
        self.check(&employee).await;
        Ok(())
    }

    /// Clear what was set by hand.
    pub(crate) async fn clear(&self, employee: &str) -> Result<(), StoreError> {
        self.store.clear_presence(employee).await?;
        self.board.write().await.clear_manual(employee);
        self.check(employee).await;
        Ok(())
    }

    /// Hand over obligations when `employee` has just become ill or gone on holiday.
    async fn check(&self, employee: &str) {
        let (status, _) = self.status(employee).await;
        let mut handed = self.handed_over.lock().await;
        if !hands_over(&status.presence) {
            handed.remove(employee);
            return;
        }
        if handed.contains(employee) {
            return;
        }
        let Some((backup, team)) = self.cover.get(employee).cloned() else { return };
        match self.ledger.owner_absent(employee.to_owned(), backup, team).await {
            Ok(_) => {
                handed.insert(employee.to_owned());
            }
            Err(e) => warn!(employee = %Pii(employee.to_owned()), error = %e, "could not hand over obligations"),
        }
    }
}

async fn read_feed(http: &HttpClient, source: &FeedSource) -> anyhow::Result<String> {
    match source {
        FeedSource::File(path) => Ok(tokio::fs::read_to_string(path).await?),
        FeedSource::Http(url) => http.get_text(url).await,
    }
}

/// Load stored presence, install schedules, read the feeds once, and start the
/// refresh and watch tasks.
///
/// # Errors
/// The store cannot be read.
pub(crate) async fn start(
    store: SqliteStore,
    cfg: Arc<Config>,
    ledger: LedgerHandle,
) -> anyhow::Result<PresenceHandle> {
    let mut board = PresenceBoard::new(cfg.calendar.tz().clone());
    for entry in store.load_presence().await? {
        board.set_manual(entry);
    }
    for (employee, hours) in &cfg.presence.schedules {
        board.set_schedule(employee, hours.clone());
    }
    let cover =
        cfg.organisation.employees.iter().map(|e| (e.extension.clone(), (e.backup.clone(), e.team.clone()))).collect();
    let handle = PresenceHandle {
        board: Arc::new(RwLock::new(board)),
        store,
        ledger,
        cover: Arc::new(cover),
        handed_over: Arc::new(Mutex::new(HashSet::new())),
    };
    refresh_feeds(&handle, &cfg, &HttpClient::new()).await;
    let employees: Vec<String> = cfg.organisation.employees.iter().map(|e| e.extension.clone()).collect();
    for e in &employees {
        handle.check(e).await;
    }
    let (h, c) = (handle.clone(), cfg.clone());
    tokio::spawn(async move {
        let http = HttpClient::new();
        let mut feeds = tokio::time::interval(c.presence.refresh);
        let mut watch = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = feeds.tick() => refresh_feeds(&h, &c, &http).await,
                _ = watch.tick() => {
                    for e in &employees {
                        h.check(e).await;
                    }
                }
            }
        }
    });
    Ok(handle)
}

async fn refresh_feeds(h: &PresenceHandle, cfg: &Config, http: &HttpClient) {
    for (employee, source) in &cfg.presence.feeds {
        let result = read_feed(http, source)
            .await
            .and_then(|text| policy::ical::parse(&text, cfg.calendar.tz()).map_err(anyhow::Error::from));
        match result {
            Ok(events) => {
                let n = events.len();
                h.board.write().await.set_feed(employee, events);
                info!(employee = %Pii(employee.clone()), events = n, "calendar feed read");
            }
            Err(e) => {
                h.ledger.metrics.feed_failures.fetch_add(1, Ordering::Relaxed);
                warn!(employee = %Pii(employee.clone()), error = %e, "calendar feed not read; keeping the last one");
            }
        }
    }
}
