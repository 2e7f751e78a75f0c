package storage

import "context"

// VCard implements Store.
func (s *SQL) VCard(ctx context.Context, owner string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT vcard FROM vcards WHERE owner = ?`), owner).Scan(&v)
	return v, s.fail("vcard", err)
}

// SetVCard implements Store. It returns ErrNotFound if owner has no
// account.
func (s *SQL) SetVCard(ctx context.Context, owner string, vcard []byte) error {
	_, err := s.w.ExecContext(ctx, s.d.q(`INSERT INTO vcards (owner, vcard) VALUES (?, ?)
		ON CONFLICT (owner) DO UPDATE SET vcard = excluded.vcard`), owner, nonNil(vcard))
	return s.fail("set vcard", err)
}

// Private implements Store.
func (s *SQL) Private(ctx context.Context, owner, namespace string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT data FROM private_storage
		WHERE owner = ? AND namespace = ?`), owner, namespace).Scan(&v)
	return v, s.fail("private", err)
}

// SetPrivate implements Store. It returns ErrNotFound if owner has no
// account.
func (s *SQL) SetPrivate(ctx context.Context, owner, namespace string, data []byte) error {
	_, err := s.w.ExecContext(ctx, s.d.q(`INSERT INTO private_storage (owner, namespace, data)
		VALUES (?, ?, ?)
		ON CONFLICT (owner, namespace) DO UPDATE SET data = excluded.data`),
		owner, namespace, nonNil(data))
	return s.fail("set private", err)
}

// nonNil keeps an empty value from being stored as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
