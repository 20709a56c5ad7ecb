//! The store writer's SQLite connection: registrar changes and call records, a batch per
//! transaction, through rusqlite on the writer's own thread.
//!
//! Why not sqlx here: sqlx runs each connection on a thread of its own and crosses to it
//! once per statement, waking a tokio worker for every answer. For a batch that was six
//! round trips between three threads, and under a REGISTER load the futex and epoll
//! wakeups and the argument copies cost more than SQLite's own work on the rows. This
//! connection is called in place: one statement per row from the prepared-statement
//! cache, the text bound straight from the registrar's binding. Migrations, reads and the
//! other tables stay on sqlx ([`crate::SqliteStore`]), which opens the file first.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use pbx::record::CallRecord;
use rusqlite::{Connection, TransactionBehavior, params};
use sip::registrar::{Binding, BindingChange};
use store::{RecordSink, StoreError};

use crate::{BINDING_COLUMNS, BINDING_ON_CONFLICT};

/// One binding's upsert, prepared once per connection and cached.
fn upsert_binding() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO bindings ({BINDING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) {BINDING_ON_CONFLICT}"
        )
    })
}

const DELETE_BINDING: &str = "DELETE FROM bindings WHERE aor = ?1 AND binding_key = ?2";

const INSERT_CALL_RECORD: &str = "INSERT INTO call_records (call_id, direction, caller, callee, trunk, started_ms, answered_ms, ended_ms, outcome, status, hangup_by, flow)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

/// The writer's connection to `svar.db`.
#[derive(Debug)]
pub struct RecordWriter {
    conn: Connection,
    /// Reused for the text of a binding's parameters and source address.
    params: String,
    addr: String,
}

impl RecordWriter {
    /// Open the database in `dir` that [`crate::SqliteStore::open_dir`] created and
    /// migrated.
    pub fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        Self::open(&dir.join("svar.db"))
    }

    /// Open a migrated database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        // The file is in WAL mode already (sqlx set it, and it stays with the file).
        // NORMAL as on sqlx's side: a committed batch survives a process crash.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
        // sqlx's connections write other tables; wait for them rather than fail.
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        Ok(Self { conn, params: String::new(), addr: String::new() })
    }

    fn upsert(
        stmt: &mut rusqlite::CachedStatement<'_>,
        b: &Binding,
        params: &mut String,
        addr: &mut String,
    ) -> Result<(), StoreError> {
        params.clear();
        sip_msg::text::write_params(params, &b.params);
        addr.clear();
        write_socket_addr(addr, b.source.addr);
        stmt.execute(params![
            b.aor,
            b.key(),
            b.contact.as_str(),
            params.as_str(),
            f64::from(b.q),
            b.expires_at,
            b.call_id,
            i64::from(b.cseq),
            b.source.transport.via_token(),
            addr.as_str(),
            b.user_agent,
        ])
        .map(drop)
        .map_err(db)
    }
}

/// `addr` as `SocketAddr`'s `Display` prints it, IPv4 without the formatting machinery
/// (a fifth of a binding's row work went to printing it).
fn write_socket_addr(out: &mut String, addr: SocketAddr) {
    // writing into a String cannot fail
    match addr {
        SocketAddr::V4(v4) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                let _ = sip_msg::text::fmt_decimal(out, u32::from(octet));
            }
            out.push(':');
            let _ = sip_msg::text::fmt_decimal(out, u32::from(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(out, "{addr}");
        }
    }
}

impl RecordSink for RecordWriter {
    fn write(&mut self, bindings: &[BindingChange], records: &[CallRecord]) -> Result<(), StoreError> {
        // IMMEDIATE: take the write lock at BEGIN, so a busy database is waited for there
        // and not found half-way through the batch.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        {
            let mut upsert = tx.prepare_cached(upsert_binding()).map_err(db)?;
            let mut delete = tx.prepare_cached(DELETE_BINDING).map_err(db)?;
            // In order, every change: within one transaction that ends as keeping only
            // the last change of each binding would, and a batch of distinct bindings
            // (the usual one) needs no table to find the last.
            for change in bindings {
                match change {
                    BindingChange::Upsert(b) => Self::upsert(&mut upsert, b, &mut self.params, &mut self.addr)?,
                    BindingChange::Remove { aor, key } => {
                        delete.execute(params![aor, key]).map_err(db)?;
                    }
                }
            }
            let mut insert = tx.prepare_cached(INSERT_CALL_RECORD).map_err(db)?;
            for c in records {
                insert
                    .execute(params![
                        c.call_id,
                        c.direction.as_str(),
                        c.caller,
                        c.callee,
                        c.trunk,
                        c.started_ms,
                        c.answered_ms,
                        c.ended_ms,
                        c.outcome.as_str(),
                        i64::from(c.status),
                        c.hangup_by.map(|p| p.as_str()),
                        c.flow,
                    ])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_print_as_display_does() {
        for text in ["192.0.2.7:5060", "0.0.0.0:0", "255.255.255.255:65535", "10.0.0.1:5", "[2001:db8::1]:5062"] {
            let addr: SocketAddr = text.parse().expect("address");
            let mut out = String::new();
            write_socket_addr(&mut out, addr);
            assert_eq!(out, addr.to_string());
        }
    }
}
