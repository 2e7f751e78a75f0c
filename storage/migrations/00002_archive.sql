-- Message archive (XEP-0313), archiving preferences, and the durable side
-- of stream management sessions (XEP-0198), so that a session can be
-- resumed on another node after the node that held it died.

-- +goose Up
-- One row per message per owner. id is the stanza-id (XEP-0359) the
-- owner's server gave the message: a ULID, so ids sort as strings in time
-- order and a time bound is an id bound (archive.go).
CREATE TABLE archive (
    owner     TEXT   NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    id        TEXT   NOT NULL,
    ts        BIGINT NOT NULL, -- Unix microseconds
    with_bare TEXT   NOT NULL, -- the other party's bare JID
    with_res  TEXT   NOT NULL DEFAULT '', -- and its resource, if any
    stanza    BLOB   NOT NULL,
    PRIMARY KEY (owner, id)
);
CREATE INDEX archive_with ON archive (owner, with_bare, id);

CREATE TABLE archive_prefs (
    owner       TEXT NOT NULL PRIMARY KEY REFERENCES accounts (jid) ON DELETE CASCADE,
    mode        TEXT NOT NULL DEFAULT 'always', -- always, never, roster
    always_json TEXT NOT NULL DEFAULT '[]',     -- JSON arrays of bare JIDs
    never_json  TEXT NOT NULL DEFAULT '[]'
);

-- A resumable stream management session, written when it is enabled and
-- kept until it ends without resumption. handled counts the client's
-- stanzas known to be durable (its messages are archived in the same
-- transaction that moves it); acked is the stanza-id of the newest
-- archived message the client has acknowledged (moved lazily).
CREATE TABLE sm_sessions (
    owner    TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    id       TEXT    NOT NULL,
    resource TEXT    NOT NULL,
    node     TEXT    NOT NULL, -- the node holding it
    member   TEXT    NOT NULL, -- and its process (cluster member id)
    created  BIGINT  NOT NULL, -- Unix microseconds
    handled  BIGINT  NOT NULL DEFAULT 0,
    acked    TEXT    NOT NULL DEFAULT '',
    presence BLOB,
    carbons  BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (owner, id)
);

-- +goose Down
DROP TABLE sm_sessions;
DROP TABLE archive_prefs;
DROP TABLE archive;
