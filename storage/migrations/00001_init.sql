-- Parley's first schema. One file serves SQLite and PostgreSQL: types are
-- the portable TEXT, BIGINT, INTEGER and BOOLEAN, and BLOB, which migrate.go
-- rewrites to BYTEA for PostgreSQL. Every table is keyed by its owner's bare
-- JID, owner first, so it can be distributed on that column later; rows that
-- belong to an account go with it (ON DELETE CASCADE).

-- +goose Up
CREATE TABLE accounts (
    jid             TEXT    NOT NULL PRIMARY KEY,
    domain          TEXT    NOT NULL,
    created         BIGINT  NOT NULL, -- Unix microseconds
    sha1_salt       BLOB,
    sha1_iterations INTEGER NOT NULL DEFAULT 0,
    sha1_stored_key BLOB,
    sha1_server_key BLOB,
    sha256_salt       BLOB,
    sha256_iterations INTEGER NOT NULL DEFAULT 0,
    sha256_stored_key BLOB,
    sha256_server_key BLOB
);
CREATE INDEX accounts_domain ON accounts (domain, jid);

-- The row is created with the account; updating it serialises roster
-- changes of one owner, so versions only grow.
CREATE TABLE roster_versions (
    owner   TEXT   NOT NULL PRIMARY KEY REFERENCES accounts (jid) ON DELETE CASCADE,
    version BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE roster_items (
    owner          TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    contact        TEXT    NOT NULL,
    name           TEXT    NOT NULL DEFAULT '',
    subscription   TEXT    NOT NULL DEFAULT 'none',
    ask_out        BOOLEAN NOT NULL DEFAULT FALSE,
    pending_in     BOOLEAN NOT NULL DEFAULT FALSE,
    pending_in_msg BLOB,
    approved       BOOLEAN NOT NULL DEFAULT FALSE,
    groups_json    TEXT    NOT NULL DEFAULT '', -- JSON array of group names
    hidden         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (owner, contact)
);

-- The last offline message id given out, per owner. Created with the
-- account; taking its row lock orders one owner's writers, even on
-- different nodes, so ids are unique, grow in commit order and are never
-- reused, and the quota count is exact.
CREATE TABLE offline_heads (
    owner   TEXT   NOT NULL PRIMARY KEY REFERENCES accounts (jid) ON DELETE CASCADE,
    last_id BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE offline_messages (
    owner  TEXT   NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    id     BIGINT NOT NULL,
    stored BIGINT NOT NULL, -- Unix microseconds
    stanza BLOB   NOT NULL,
    PRIMARY KEY (owner, id)
);

CREATE TABLE vcards (
    owner TEXT NOT NULL PRIMARY KEY REFERENCES accounts (jid) ON DELETE CASCADE,
    vcard BLOB NOT NULL
);

CREATE TABLE private_storage (
    owner     TEXT NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (owner, namespace)
);

CREATE TABLE blocklist (
    owner TEXT NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    jid   TEXT NOT NULL,
    PRIMARY KEY (owner, jid)
);

-- +goose Down
DROP TABLE blocklist;
DROP TABLE private_storage;
DROP TABLE vcards;
DROP TABLE offline_messages;
DROP TABLE offline_heads;
DROP TABLE roster_items;
DROP TABLE roster_versions;
DROP TABLE accounts;
