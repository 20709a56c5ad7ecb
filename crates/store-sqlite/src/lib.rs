//! SQLite backend of [`store::Store`]: one file in the data directory, WAL journal,
//! migrations embedded in the binary and run at open. The store writer's batches go
//! through [`RecordWriter`], a connection of its own.

mod records;

pub use records::RecordWriter;

use std::path::Path;
use std::str::FromStr;

use pbx::record::CallRecord;
use policy::notify::Notification;
use policy::presence::ManualPresence;
use policy::{AuditEntry, Obligation, ObligationId, Owner};
use sip::registrar::{Binding, BindingChange};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use store::obligations::{audit_from_row, audit_row, owner_parts};
use store::{
    BindingRow, ObligationRow, ObligationStore, Store, StoreError, parse_direction, parse_outcome, parse_party,
};
use store::{
    NOTIFICATION_COLUMNS, NotificationRow, OrganisationStore, OrganisationVersion, PRESENCE_COLUMNS, PresenceRow,
    PresenceStore,
};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

impl SqliteStore {
    /// Open (creating if needed) `svar.db` in `dir` and migrate it.
    pub async fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", dir.display())))?;
        Self::open(&dir.join("svar.db")).await
    }

    /// Open a database file and migrate it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: a committed transaction survives a process crash (kill -9);
            // only an OS crash can lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(db)?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(db)?;
        Ok(Self { pool })
    }
}

/// The bindings table's columns, in the order both writers bind them.
pub(crate) const BINDING_COLUMNS: &str =
    "aor, binding_key, contact, params, q, expires_at, call_id, cseq, source_transport, source_addr, user_agent";

/// A binding's row replaces the stored one of the same address-of-record and key.
pub(crate) const BINDING_ON_CONFLICT: &str = "ON CONFLICT (aor, binding_key) DO UPDATE SET contact = excluded.contact, params = excluded.params, q = excluded.q,
     expires_at = excluded.expires_at, call_id = excluded.call_id, cseq = excluded.cseq,
     source_transport = excluded.source_transport, source_addr = excluded.source_addr, user_agent = excluded.user_agent";

impl Store for SqliteStore {
    async fn apply_bindings(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        // Coalesce: only the last change of each binding in the batch matters. Then one
        // multi-row upsert and one delete per removed binding, in one transaction. (The
        // server's writer goes through `RecordWriter`; this serves the `Store` trait.)
        let (upserts, removes) = store::coalesce_bindings(changes);
        let mut tx = self.pool.begin().await.map_err(db)?;
        for chunk in upserts.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(format!("INSERT INTO bindings ({BINDING_COLUMNS}) "));
            q.push_values(chunk, |mut b, r| {
                b.push_bind(&r.aor)
                    .push_bind(&r.key)
                    .push_bind(&r.contact)
                    .push_bind(&r.params)
                    .push_bind(r.q)
                    .push_bind(r.expires_at)
                    .push_bind(&r.call_id)
                    .push_bind(r.cseq)
                    .push_bind(&r.source_transport)
                    .push_bind(&r.source_addr)
                    .push_bind(&r.user_agent);
            });
            q.push(" ");
            q.push(BINDING_ON_CONFLICT);
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        for (aor, key) in removes {
            sqlx::query("DELETE FROM bindings WHERE aor = ? AND binding_key = ?")
                .bind(aor)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn load_bindings(&self) -> Result<Vec<Binding>, StoreError> {
        let rows = sqlx::query(
            "SELECT aor, binding_key, contact, params, q, expires_at, call_id, cseq, source_transport, source_addr, user_agent FROM bindings",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                BindingRow {
                    aor: r.get(0),
                    key: r.get(1),
                    contact: r.get(2),
                    params: r.get(3),
                    q: r.get(4),
                    expires_at: r.get(5),
                    call_id: r.get(6),
                    cseq: r.get(7),
                    source_transport: r.get(8),
                    source_addr: r.get(9),
                    user_agent: r.get(10),
                }
                .into_binding()
            })
            .collect()
    }

    async fn insert_call_records(&self, records: &[CallRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for chunk in records.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO call_records (call_id, direction, caller, callee, trunk, started_ms, answered_ms, ended_ms, outcome, status, hangup_by, flow) ",
            );
            q.push_values(chunk, |mut b, c| {
                b.push_bind(&c.call_id)
                    .push_bind(c.direction.as_str())
                    .push_bind(&c.caller)
                    .push_bind(&c.callee)
                    .push_bind(&c.trunk)
                    .push_bind(c.started_ms)
                    .push_bind(c.answered_ms)
                    .push_bind(c.ended_ms)
                    .push_bind(c.outcome.as_str())
                    .push_bind(i64::from(c.status))
                    .push_bind(c.hangup_by.map(|p| p.as_str()))
                    .push_bind(&c.flow);
            });
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn recent_call_records(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id, direction, caller, callee, trunk, started_ms, answered_ms, ended_ms, outcome, status, hangup_by, flow
             FROM call_records ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                let hangup: Option<String> = r.get(10);
                let status: i64 = r.get(9);
                Ok(CallRecord {
                    call_id: r.get(0),
                    direction: parse_direction(&r.get::<String, _>(1))?,
                    caller: r.get(2),
                    callee: r.get(3),
                    trunk: r.get(4),
                    started_ms: r.get(5),
                    answered_ms: r.get(6),
                    ended_ms: r.get(7),
                    outcome: parse_outcome(&r.get::<String, _>(8))?,
                    status: u16::try_from(status)
                        .map_err(|_| StoreError::Corrupt { table: "call_records", reason: "status".into() })?,
                    hangup_by: hangup.as_deref().map(parse_party).transpose()?,
                    flow: r.get(11),
                })
            })
            .collect()
    }
}

const OBLIGATION_COLUMNS: &str = "id, caller, owner_kind, owner_id, source, topic, case_ref, created_ms, deadline_ms, state, cancel_reason, repeat_calls, attempts, escalation";

fn obligation_from(r: &sqlx::sqlite::SqliteRow) -> Result<Obligation, StoreError> {
    ObligationRow {
        id: r.get(0),
        caller: r.get(1),
        owner_kind: r.get(2),
        owner_id: r.get(3),
        source: r.get(4),
        topic: r.get(5),
        case_ref: r.get(6),
        created_ms: r.get(7),
        deadline_ms: r.get(8),
        state: r.get(9),
        cancel_reason: r.get(10),
        repeat_calls: r.get(11),
        attempts: r.get(12),
        escalation: r.get(13),
    }
    .into_obligation()
}

impl ObligationStore for SqliteStore {
    async fn save_obligations(
        &self,
        obligations: &[Obligation],
        audit: &[AuditEntry],
        notifications: &[Notification],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for chunk in obligations.chunks(500) {
            let rows: Vec<ObligationRow> = chunk.iter().map(ObligationRow::from_obligation).collect();
            let mut q = QueryBuilder::<Sqlite>::new(format!("INSERT INTO obligations ({OBLIGATION_COLUMNS}) "));
            q.push_values(&rows, |mut b, r| {
                b.push_bind(r.id)
                    .push_bind(&r.caller)
                    .push_bind(&r.owner_kind)
                    .push_bind(&r.owner_id)
                    .push_bind(&r.source)
                    .push_bind(&r.topic)
                    .push_bind(&r.case_ref)
                    .push_bind(r.created_ms)
                    .push_bind(r.deadline_ms)
                    .push_bind(&r.state)
                    .push_bind(&r.cancel_reason)
                    .push_bind(r.repeat_calls)
                    .push_bind(r.attempts)
                    .push_bind(&r.escalation);
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET owner_kind = excluded.owner_kind, owner_id = excluded.owner_id,
                  topic = excluded.topic, case_ref = excluded.case_ref, deadline_ms = excluded.deadline_ms,
                  state = excluded.state, cancel_reason = excluded.cancel_reason, repeat_calls = excluded.repeat_calls,
                  attempts = excluded.attempts, escalation = excluded.escalation",
            );
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        for chunk in audit.chunks(500) {
            let rows: Vec<_> = chunk.iter().map(audit_row).collect();
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO obligation_audit (obligation_id, at_ms, by_user, action, from_state, to_state, detail) ",
            );
            q.push_values(&rows, |mut b, r| {
                b.push_bind(r.0)
                    .push_bind(r.1)
                    .push_bind(&r.2)
                    .push_bind(&r.3)
                    .push_bind(&r.4)
                    .push_bind(&r.5)
                    .push_bind(&r.6);
            });
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        for chunk in notifications.chunks(500) {
            let rows: Vec<NotificationRow> = chunk.iter().map(NotificationRow::from_notification).collect();
            let mut q = QueryBuilder::<Sqlite>::new(format!("INSERT INTO notifications ({NOTIFICATION_COLUMNS}) "));
            q.push_values(&rows, |mut b, r| {
                b.push_bind(r.id)
                    .push_bind(r.obligation_id)
                    .push_bind(&r.channel)
                    .push_bind(&r.address)
                    .push_bind(&r.subject)
                    .push_bind(&r.body)
                    .push_bind(r.created_ms)
                    .push_bind(&r.state)
                    .push_bind(r.attempts)
                    .push_bind(r.next_attempt_ms)
                    .push_bind(&r.last_error)
                    .push_bind(r.done_ms);
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
                  next_attempt_ms = excluded.next_attempt_ms, last_error = excluded.last_error, done_ms = excluded.done_ms",
            );
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn load_notifications(&self) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                NotificationRow {
                    id: r.get(0),
                    obligation_id: r.get(1),
                    channel: r.get(2),
                    address: r.get(3),
                    subject: r.get(4),
                    body: r.get(5),
                    created_ms: r.get(6),
                    state: r.get(7),
                    attempts: r.get(8),
                    next_attempt_ms: r.get(9),
                    last_error: r.get(10),
                    done_ms: r.get(11),
                }
                .into_notification()
            })
            .collect()
    }

    async fn load_obligations(&self) -> Result<Vec<Obligation>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {OBLIGATION_COLUMNS} FROM obligations ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(obligation_from).collect()
    }

    async fn open_obligations_for(&self, owner: &Owner, limit: u32) -> Result<Vec<Obligation>, StoreError> {
        let (kind, id) = owner_parts(owner);
        let rows = sqlx::query(&format!(
            "SELECT {OBLIGATION_COLUMNS} FROM obligations
             WHERE owner_kind = ? AND owner_id = ? AND state NOT IN ('completed', 'cancelled')
             ORDER BY deadline_ms, id LIMIT ?"
        ))
        .bind(kind)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(obligation_from).collect()
    }

    async fn audit_of(&self, id: ObligationId) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT obligation_id, at_ms, by_user, action, from_state, to_state, detail FROM obligation_audit
             WHERE obligation_id = ? ORDER BY seq",
        )
        .bind(id.0 as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| audit_from_row((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6))))
            .collect()
    }
}

impl PresenceStore for SqliteStore {
    async fn save_presence(&self, entry: &ManualPresence) -> Result<(), StoreError> {
        let r = PresenceRow::from_entry(entry);
        sqlx::query(&format!(
            "INSERT INTO presence ({PRESENCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (employee) DO UPDATE SET state = excluded.state, reason = excluded.reason,
             until_ms = excluded.until_ms, set_by = excluded.set_by, set_at_ms = excluded.set_at_ms"
        ))
        .bind(r.employee)
        .bind(r.state)
        .bind(r.reason)
        .bind(r.until_ms)
        .bind(r.set_by)
        .bind(r.set_at_ms)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn clear_presence(&self, employee: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM presence WHERE employee = ?").bind(employee).execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    async fn load_presence(&self) -> Result<Vec<ManualPresence>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {PRESENCE_COLUMNS} FROM presence ORDER BY employee"))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                PresenceRow {
                    employee: r.get(0),
                    state: r.get(1),
                    reason: r.get(2),
                    until_ms: r.get(3),
                    set_by: r.get(4),
                    set_at_ms: r.get(5),
                }
                .into_entry()
            })
            .collect()
    }
}

impl OrganisationStore for SqliteStore {
    async fn latest_organisation(&self) -> Result<Option<OrganisationVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT version, at_ms, source, document FROM organisation_versions ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some(r) = row else { return Ok(None) };
        let at: i64 = r.get(1);
        let document: String = r.get(3);
        Ok(Some(OrganisationVersion {
            version: r.get(0),
            at: jiff::Timestamp::from_millisecond(at)
                .map_err(|_| StoreError::Corrupt { table: "organisation_versions", reason: "time".into() })?,
            source: r.get(2),
            organisation: store::organisation::from_document(&document)?,
        }))
    }

    async fn save_organisation(
        &self,
        organisation: &policy::org::Organisation,
        source: &str,
        at: jiff::Timestamp,
    ) -> Result<i64, StoreError> {
        let document = store::organisation::to_document(organisation)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM organisation_versions")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let version = latest.unwrap_or(0) + 1;
        sqlx::query("INSERT INTO organisation_versions (version, at_ms, source, document) VALUES (?, ?, ?, ?)")
            .bind(version)
            .bind(at.as_millisecond())
            .bind(source)
            .bind(document)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(version)
    }
}
