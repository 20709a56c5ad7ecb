CREATE TABLE bindings (
    aor              TEXT             NOT NULL,
    binding_key      TEXT             NOT NULL,
    contact          TEXT             NOT NULL,
    params           TEXT             NOT NULL,
    q                DOUBLE PRECISION NOT NULL,
    expires_at       BIGINT           NOT NULL,
    call_id          TEXT             NOT NULL,
    cseq             BIGINT           NOT NULL,
    source_transport TEXT             NOT NULL,
    source_addr      TEXT             NOT NULL,
    user_agent       TEXT,
    PRIMARY KEY (aor, binding_key)
);

CREATE TABLE call_records (
    id          BIGSERIAL PRIMARY KEY,
    call_id     TEXT    NOT NULL,
    direction   TEXT    NOT NULL,
    caller      TEXT    NOT NULL,
    callee      TEXT    NOT NULL,
    trunk       TEXT,
    started_ms  BIGINT  NOT NULL,
    answered_ms BIGINT,
    ended_ms    BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    hangup_by   TEXT
);
CREATE INDEX call_records_started ON call_records (started_ms);
