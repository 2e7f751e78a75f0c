package storage

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"strings"
)

// flushOffline writes a batch of offline messages with a handful of
// statements, whatever its size: lock the owners' heads, count what they
// hold (if a quota applies), insert, move the heads.
//
// The heads are locked in owner order, so batches of different nodes
// cannot deadlock, and held to the commit, so one owner's messages get
// unique ids in commit order and the quota count is exact.
func flushOffline(ctx context.Context, tx *sql.Tx, d dialect, msgs []*offlineMsg) ([]error, error) {
	var owners, limited []string
	for _, m := range msgs {
		owners = append(owners, m.owner)
		if m.limit > 0 {
			limited = append(limited, m.owner)
		}
	}
	owners, limited = sortedSet(owners), sortedSet(limited)

	last, err := lockOfflineHeads(ctx, tx, d, owners)
	if err != nil {
		return nil, err
	}
	count, err := countOfflineOf(ctx, tx, d, limited)
	if err != nil {
		return nil, err
	}

	errs := make([]error, len(msgs))
	rows := make([]any, 0, 4*len(msgs))
	moved := make(map[string]bool)
	for i, m := range msgs {
		id, ok := last[m.owner]
		switch {
		case !ok:
			// Found missing rather than left to the foreign key: on
			// PostgreSQL a failed statement would abort the whole batch.
			errs[i] = ErrNotFound
			continue
		case m.limit > 0 && count[m.owner] >= m.limit:
			errs[i] = ErrQuota
			continue
		}
		last[m.owner], count[m.owner], moved[m.owner] = id+1, count[m.owner]+1, true
		rows = append(rows, m.owner, id+1, m.stored.UnixMicro(), m.stanza)
	}
	if len(rows) == 0 {
		return errs, nil
	}
	if err := insertOffline(ctx, tx, d, rows); err != nil {
		return nil, err
	}
	return errs, moveOfflineHeads(ctx, tx, d, last, moved)
}

// lockOfflineHeads returns the last id of each owner that has an account,
// locking the rows until the transaction ends (SQLite has one writer and
// needs no lock).
func lockOfflineHeads(ctx context.Context, tx *sql.Tx, d dialect, owners []string) (map[string]int64, error) {
	args := padded(owners)
	q := `SELECT owner, last_id FROM offline_heads WHERE owner IN (` + marks(len(args)) + `) ORDER BY owner`
	if d == dialectPostgres {
		q += ` FOR UPDATE`
	}
	rows, err := tx.QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	last := make(map[string]int64, len(owners))
	for rows.Next() {
		var o string
		var id int64
		if err := rows.Scan(&o, &id); err != nil {
			return nil, err
		}
		last[o] = id
	}
	return last, rows.Err()
}

// countOfflineOf counts the stored messages of owners.
func countOfflineOf(ctx context.Context, tx *sql.Tx, d dialect, owners []string) (map[string]int, error) {
	count := make(map[string]int)
	if len(owners) == 0 {
		return count, nil
	}
	args := padded(owners)
	rows, err := tx.QueryContext(ctx, d.q(`SELECT owner, COUNT(*) FROM offline_messages
		WHERE owner IN (`+marks(len(args))+`) GROUP BY owner`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			return nil, err
		}
		count[o] = n
	}
	return count, rows.Err()
}

// insertOffline inserts rows (4 values each) with multi-row INSERTs of
// power-of-two sizes, so that few statement shapes exist to be prepared.
func insertOffline(ctx context.Context, tx *sql.Tx, d dialect, rows []any) error {
	const width = 4
	for len(rows) > 0 {
		n := pow2Floor(len(rows) / width)
		q := `INSERT INTO offline_messages (owner, id, stored, stanza) VALUES ` + rowMarks(n, width)
		if _, err := tx.ExecContext(ctx, d.q(q), rows[:n*width]...); err != nil {
			return err
		}
		rows = rows[n*width:]
	}
	return nil
}

// moveOfflineHeads stores the new last ids of the moved owners.
func moveOfflineHeads(ctx context.Context, tx *sql.Tx, d dialect, last map[string]int64, moved map[string]bool) error {
	owners := padded(sortedSet(slices.Collect(maps.Keys(moved))))
	var cases strings.Builder
	args := make([]any, 0, 3*len(owners))
	for _, o := range owners {
		cases.WriteString(" WHEN ? THEN CAST(? AS BIGINT)")
		args = append(args, o, last[o.(string)])
	}
	args = append(args, owners...)
	_, err := tx.ExecContext(ctx, d.q(`UPDATE offline_heads SET last_id = CASE owner`+cases.String()+
		` END WHERE owner IN (`+marks(len(owners))+`)`), args...)
	return err
}

func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
