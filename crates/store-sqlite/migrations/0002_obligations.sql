-- The obligation ledger: one row per obligation, updated in place.
CREATE TABLE obligations (
    id            INTEGER PRIMARY KEY,
    caller        TEXT    NOT NULL,
    owner_kind    TEXT    NOT NULL,
    owner_id      TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    topic         TEXT,
    case_ref      TEXT,
    created_ms    INTEGER NOT NULL,
    deadline_ms   INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    cancel_reason TEXT,
    repeat_calls  INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    escalation    TEXT    NOT NULL
);
-- "my open obligations, most urgent first"
CREATE INDEX obligations_owner_open ON obligations (owner_kind, owner_id, deadline_ms) WHERE state NOT IN ('completed', 'cancelled');

-- Every transition: who, when, what. Append only.
CREATE TABLE obligation_audit (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    obligation_id INTEGER NOT NULL,
    at_ms         INTEGER NOT NULL,
    by_user       TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    from_state    TEXT    NOT NULL,
    to_state      TEXT    NOT NULL,
    detail        TEXT    NOT NULL
);
CREATE INDEX obligation_audit_id ON obligation_audit (obligation_id, seq);
