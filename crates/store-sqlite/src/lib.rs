//! SQLite backend of [`store::Store`]: one file in the data directory, WAL journal,
//! migrations embedded in the binary and run at open.

use std::path::Path;
use std::str::FromStr;

use pbx::record::CallRecord;
use sip::registrar::{Binding, BindingChange};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use store::{BindingRow, Store, StoreError, parse_direction, parse_outcome, parse_party};

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

impl Store for SqliteStore {
    async fn apply_bindings(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for c in changes {
            match c {
                BindingChange::Upsert(b) => {
                    let r = BindingRow::from_binding(b);
                    sqlx::query(
                        "INSERT INTO bindings (aor, binding_key, contact, params, q, expires_at, call_id, cseq, source_transport, source_addr, user_agent)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                         ON CONFLICT (aor, binding_key) DO UPDATE SET contact = excluded.contact, params = excluded.params, q = excluded.q,
                           expires_at = excluded.expires_at, call_id = excluded.call_id, cseq = excluded.cseq,
                           source_transport = excluded.source_transport, source_addr = excluded.source_addr, user_agent = excluded.user_agent",
                    )
                    .bind(&r.aor)
                    .bind(&r.key)
                    .bind(&r.contact)
                    .bind(&r.params)
                    .bind(r.q)
                    .bind(r.expires_at)
                    .bind(&r.call_id)
                    .bind(r.cseq)
                    .bind(&r.source_transport)
                    .bind(&r.source_addr)
                    .bind(&r.user_agent)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                BindingChange::Remove { aor, key } => {
                    sqlx::query("DELETE FROM bindings WHERE aor = ? AND binding_key = ?")
                        .bind(aor)
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
            }
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
        for c in records {
            sqlx::query(
                "INSERT INTO call_records (call_id, direction, caller, callee, trunk, started_ms, answered_ms, ended_ms, outcome, status, hangup_by)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&c.call_id)
            .bind(c.direction.as_str())
            .bind(&c.caller)
            .bind(&c.callee)
            .bind(&c.trunk)
            .bind(c.started_ms)
            .bind(c.answered_ms)
            .bind(c.ended_ms)
            .bind(c.outcome.as_str())
            .bind(i64::from(c.status))
            .bind(c.hangup_by.map(|p| p.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn recent_call_records(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id, direction, caller, callee, trunk, started_ms, answered_ms, ended_ms, outcome, status, hangup_by
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
                })
            })
            .collect()
    }
}
