-- Notifications about obligations (e-mail to the owner, SMS receipt to the citizen),
-- written with the obligation in one transaction and updated as attempts are made.
CREATE TABLE notifications (
    id              BIGINT  PRIMARY KEY,
    obligation_id   BIGINT  NOT NULL,
    channel         TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_ms      BIGINT  NOT NULL,
    state           TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL,
    next_attempt_ms BIGINT  NOT NULL,
    last_error      TEXT,
    done_ms         BIGINT
);
CREATE INDEX notifications_open ON notifications (state, next_attempt_ms) WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_obligation ON notifications (obligation_id);
