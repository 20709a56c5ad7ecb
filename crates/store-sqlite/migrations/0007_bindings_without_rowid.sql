-- Bindings are found and replaced by (aor, binding_key) only, so the table is that key's
-- own B-tree: with a rowid every upsert searched and wrote two trees (the rows and the
-- primary-key index). BENCHMARKS.md, session 15.
CREATE TABLE bindings_by_key (
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
) WITHOUT ROWID;

INSERT INTO bindings_by_key SELECT aor, binding_key, contact, params, q, expires_at, call_id, cseq,
    source_transport, source_addr, user_agent FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_by_key RENAME TO bindings;
