CREATE TABLE obligations (
    id            BIGINT PRIMARY KEY,
    caller        TEXT   NOT NULL,
    owner_kind    TEXT   NOT NULL,
    owner_id      TEXT   NOT NULL,
    source        TEXT   NOT NULL,
    topic         TEXT,
    case_ref      TEXT,
    created_ms    BIGINT NOT NULL,
    deadline_ms   BIGINT NOT NULL,
    state         TEXT   NOT NULL,
    cancel_reason TEXT,
    repeat_calls  BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    escalation    TEXT   NOT NULL
);
CREATE INDEX obligations_owner_open ON obligations (owner_kind, owner_id, deadline_ms) WHERE state NOT IN ('completed', 'cancelled');

CREATE TABLE obligation_audit (
    seq           BIGSERIAL PRIMARY KEY,
    obligation_id BIGINT NOT NULL,
    at_ms         BIGINT NOT NULL,
    by_user       TEXT   NOT NULL,
    action        TEXT   NOT NULL,
    from_state    TEXT   NOT NULL,
    to_state      TEXT   NOT NULL,
    detail        TEXT   NOT NULL
);
CREATE INDEX obligation_audit_id ON obligation_audit (obligation_id, seq);
