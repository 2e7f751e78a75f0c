package storage

import (
	"context"
	"database/sql"
)

// PushRegistration is one app server an account asked to be notified
// through (XEP-0357): the push service's JID, the node on it, and the
// publish-options form to send with each notification (serialized XML,
// nil when the client gave none). Stored as given; the push module gives
// it meaning.
type PushRegistration struct {
	Service string
	Node    string
	Options []byte
}

// PushStore keeps push registrations, per account.
type PushStore interface {
	// PutPushRegistration adds a registration, or replaces the options of
	// the one with the same service and node. ErrNotFound if owner has no
	// account.
	PutPushRegistration(ctx context.Context, owner string, r PushRegistration) error
	// PushRegistrations lists the owner's registrations, sorted by
	// service, then node.
	PushRegistrations(ctx context.Context, owner string) ([]PushRegistration, error)
	// DeletePushRegistration removes one registration; ErrNotFound if
	// there was none.
	DeletePushRegistration(ctx context.Context, owner, service, node string) error
	// DeletePushService removes every registration of the owner at
	// service, whatever its node, and returns how many there were.
	DeletePushService(ctx context.Context, owner, service string) (int, error)
}

// PutPushRegistration implements PushStore.
func (s *SQL) PutPushRegistration(ctx context.Context, owner string, r PushRegistration) error {
	_, err := s.w.ExecContext(ctx, s.d.q(`INSERT INTO push_registrations (owner, service, node, options)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (owner, service, node) DO UPDATE SET options = excluded.options`),
		owner, r.Service, r.Node, nonNil(r.Options))
	return s.fail("put push registration", err)
}

// PushRegistrations implements PushStore.
func (s *SQL) PushRegistrations(ctx context.Context, owner string) ([]PushRegistration, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT service, node, options FROM push_registrations
		WHERE owner = ? ORDER BY service, node`), owner)
	if err != nil {
		return nil, s.fail("push registrations", err)
	}
	defer rows.Close()
	var out []PushRegistration
	for rows.Next() {
		var r PushRegistration
		if err := rows.Scan(&r.Service, &r.Node, &r.Options); err != nil {
			return nil, s.fail("push registrations", err)
		}
		if len(r.Options) == 0 {
			r.Options = nil
		}
		out = append(out, r)
	}
	return out, s.fail("push registrations", rows.Err())
}

// DeletePushRegistration implements PushStore.
func (s *SQL) DeletePushRegistration(ctx context.Context, owner, service, node string) error {
	return s.fail("delete push registration", mustAffect(s.w.ExecContext(ctx, s.d.q(`DELETE FROM push_registrations
		WHERE owner = ? AND service = ? AND node = ?`), owner, service, node)))
}

// DeletePushService implements PushStore.
func (s *SQL) DeletePushService(ctx context.Context, owner, service string) (int, error) {
	n, err := countAffected(s.w.ExecContext(ctx, s.d.q(`DELETE FROM push_registrations
		WHERE owner = ? AND service = ?`), owner, service))
	return int(n), s.fail("delete push service", err)
}

// countAffected returns how many rows an Exec changed.
func countAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
