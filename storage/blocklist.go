package storage

import (
	"context"
	"database/sql"
)

// BlockList implements Store. The list is sorted.
func (s *SQL) BlockList(ctx context.Context, owner string) ([]string, error) {
	jids, err := scanStrings(s.r.QueryContext(ctx, s.d.q(`SELECT jid FROM blocklist
		WHERE owner = ? ORDER BY jid`), owner))
	return jids, s.fail("block list", err)
}

// Block implements Store. Blocking a JID twice is not an error. It returns
// ErrNotFound if owner has no account.
func (s *SQL) Block(ctx context.Context, owner string, jids []string) error {
	if len(jids) == 0 {
		return nil
	}
	return s.fail("block", s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.d.q(`INSERT INTO blocklist (owner, jid) VALUES (?, ?)
			ON CONFLICT (owner, jid) DO NOTHING`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, j := range jids {
			if _, err := st.ExecContext(ctx, owner, j); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Unblock implements Store.
func (s *SQL) Unblock(ctx context.Context, owner string, jids []string) error {
	if len(jids) == 0 {
		_, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM blocklist WHERE owner = ?`), owner)
		return s.fail("unblock all", err)
	}
	return s.fail("unblock", s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.d.q(`DELETE FROM blocklist WHERE owner = ? AND jid = ?`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, j := range jids {
			if _, err := st.ExecContext(ctx, owner, j); err != nil {
				return err
			}
		}
		return nil
	}))
}
