-- Push notifications (XEP-0357): the app servers an account asked the
-- server to notify. One row per service JID and node; options is the
-- publish-options data form the client gave (serialized XML, empty when
-- none), sent back with every notification.

-- +goose Up
CREATE TABLE push_registrations (
    owner   TEXT NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    service TEXT NOT NULL,
    node    TEXT NOT NULL,
    options BLOB NOT NULL,
    PRIMARY KEY (owner, service, node)
);

-- +goose Down
DROP TABLE push_registrations;
