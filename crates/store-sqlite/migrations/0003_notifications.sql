-- Notifications about obligations (e-mail to the owner, SMS receipt to the citizen),
-- written with the obligation in one transaction and updated as attempts are made.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    obligation_id   INTEGER NOT NULL,
    channel         TEXT    NOT NULL,
    address         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    done_ms         BIGINT
);
CREATE INDEX notifications_open ON notifications (state, next_attempt_ms) WHERE state IN ('pending', 'sending');
CREATE INDEX notifications_obligation ON notifications (obligation_id);
