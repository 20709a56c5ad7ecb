-- Presence set by hand (with a reason and a return time), one row per employee while it
-- applies. Schedules are configuration; calendar feeds are read from their source.
CREATE TABLE presence (
    employee  TEXT   PRIMARY KEY,
    state     TEXT   NOT NULL,
    reason    TEXT,
    until_ms  BIGINT,
    set_by    TEXT   NOT NULL,
    set_at_ms BIGINT NOT NULL
);
