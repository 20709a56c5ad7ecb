-- Registrar bindings: a restart keeps phones reachable.
CREATE TABLE bindings (
    aor              TEXT    NOT NULL,
    binding_key      TEXT    NOT NULL,
    contact          TEXT    NOT NULL,
    params           TEXT    NOT NULL,
    q                REAL    NOT NULL,
    expires_at       INTEGER NOT NULL,
    call_id          TEXT    NOT NULL,
    cseq             INTEGER NOT NULL,
    source_transport TEXT    NOT NULL,
    source_addr      TEXT    NOT NULL,
    user_agent       TEXT,
    PRIMARY KEY (aor, binding_key)
);

-- One row per call, written when it ends.
CREATE TABLE call_records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    callee      TEXT    NOT NULL,
    trunk       TEXT,
    started_ms  INTEGER NOT NULL,
    answered_ms INTEGER,
    ended_ms    INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    hangup_by   TEXT
);
CREATE INDEX call_records_started ON call_records (started_ms);
