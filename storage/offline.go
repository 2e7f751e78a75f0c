package storage

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// offlineMsg is a StoreOffline request, written by the offline writer.
type offlineMsg struct {
	owner  string
	stanza []byte
	limit  int
	stored time.Time
}

// StoreOffline implements Store. The message is durable when it returns
// nil.
func (s *SQL) StoreOffline(ctx context.Context, owner string, stanza []byte, limit int) error {
	m := &offlineMsg{owner: owner, stanza: nonNil(stanza), limit: limit, stored: time.Now()}
	return s.fail("store offline", s.offline.do(ctx, m))
}

// TakeOffline implements Store. One DELETE ... RETURNING takes exactly the
// rows it returns, even while other nodes store more.
func (s *SQL) TakeOffline(ctx context.Context, owner string) ([]OfflineMessage, error) {
	rows, err := s.w.QueryContext(ctx, s.d.q(`DELETE FROM offline_messages
		WHERE owner = ? RETURNING id, stored, stanza`), owner)
	if err != nil {
		return nil, s.fail("take offline", err)
	}
	defer rows.Close()
	var msgs []OfflineMessage
	for rows.Next() {
		var m OfflineMessage
		var stored int64
		if err := rows.Scan(&m.ID, &stored, &m.Stanza); err != nil {
			return nil, s.fail("take offline", err)
		}
		m.Stored = time.UnixMicro(stored).UTC()
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("take offline", err)
	}
	// RETURNING has no ORDER BY.
	slices.SortFunc(msgs, func(a, b OfflineMessage) int { return cmp.Compare(a.ID, b.ID) })
	return msgs, nil
}

// haveOfflineBatch is how many owners one HaveOffline query asks about
// (a power of two: see padded).
const haveOfflineBatch = 256

// HaveOffline implements Store, one query per haveOfflineBatch owners.
func (s *SQL) HaveOffline(ctx context.Context, owners []string) ([]string, error) {
	var out []string
	for len(owners) > 0 {
		n := min(len(owners), haveOfflineBatch)
		args := padded(owners[:n])
		owners = owners[n:]
		rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT DISTINCT owner FROM offline_messages
			WHERE owner IN (`+marks(len(args))+`)`), args...)
		if err != nil {
			return nil, s.fail("have offline", err)
		}
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return nil, s.fail("have offline", err)
			}
			out = append(out, o)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.fail("have offline", err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// CountOffline implements Store.
func (s *SQL) CountOffline(ctx context.Context, owner string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*) FROM offline_messages WHERE owner = ?`), owner).Scan(&n)
	return n, s.fail("count offline", err)
}
