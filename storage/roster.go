package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

const rosterColumns = `contact, name, subscription, ask_out, pending_in,
	pending_in_msg, approved, groups_json, hidden`

// Roster implements Store. Hidden items are left out; an owner without an
// account has an empty roster at version 0.
func (s *SQL) Roster(ctx context.Context, owner string) ([]RosterItem, int64, error) {
	// One snapshot, so that the version matches the items. On SQLite the
	// reader pool's deferred BEGIN is one already and takes no lock.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, 0, s.fail("roster", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var version int64
	err = tx.QueryRowContext(ctx, s.d.q(`SELECT version FROM roster_versions WHERE owner = ?`), owner).Scan(&version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, s.fail("roster", err)
	}
	rows, err := tx.QueryContext(ctx, s.d.q(`SELECT `+rosterColumns+` FROM roster_items
		WHERE owner = ? ORDER BY contact`), owner)
	if err != nil {
		return nil, 0, s.fail("roster", err)
	}
	defer rows.Close()
	var items []RosterItem
	for rows.Next() {
		it, err := scanRosterItem(rows)
		if err != nil {
			return nil, 0, s.fail("roster", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.fail("roster", err)
	}
	return items, version, nil
}

// RosterItem implements Store. Hidden items are returned too: the roster
// module needs their subscription state.
func (s *SQL) RosterItem(ctx context.Context, owner, contact string) (RosterItem, error) {
	row := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+rosterColumns+` FROM roster_items
		WHERE owner = ? AND contact = ?`), owner, contact)
	it, err := scanRosterItem(row)
	return it, s.fail("roster item", err)
}

// PutRosterItem implements Store. It returns ErrNotFound if owner has no
// account.
func (s *SQL) PutRosterItem(ctx context.Context, owner string, it RosterItem) (int64, error) {
	groups, err := encodeGroups(it.Groups)
	if err != nil {
		return 0, err
	}
	if it.Subscription == "" {
		it.Subscription = SubNone
	}
	var version int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if version, err = bumpRosterVersion(ctx, tx, s.d, owner); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.q(`INSERT INTO roster_items (owner, `+rosterColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (owner, contact) DO UPDATE SET
				name = excluded.name, subscription = excluded.subscription,
				ask_out = excluded.ask_out, pending_in = excluded.pending_in,
				pending_in_msg = excluded.pending_in_msg, approved = excluded.approved,
				groups_json = excluded.groups_json, hidden = excluded.hidden`),
			owner, it.Contact, it.Name, it.Subscription, it.AskOut, it.PendingIn,
			it.PendingInMsg, it.Approved, groups, it.Hidden)
		return err
	})
	if err != nil {
		return 0, s.fail("put roster item", err)
	}
	return version, nil
}

// DeleteRosterItem implements Store. Deleting an item that is not there is
// ErrNotFound and leaves the version alone.
func (s *SQL) DeleteRosterItem(ctx context.Context, owner, contact string) (int64, error) {
	var version int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`DELETE FROM roster_items WHERE owner = ? AND contact = ?`), owner, contact)
		if err := mustAffect(res, err); err != nil {
			return err
		}
		version, err = bumpRosterVersion(ctx, tx, s.d, owner)
		return err
	})
	if err != nil {
		return 0, s.fail("delete roster item", err)
	}
	return version, nil
}

// bumpRosterVersion increments owner's roster version. On PostgreSQL the
// row lock it takes orders concurrent roster changes of one owner, so the
// versions they return are distinct and grow with commit order.
func bumpRosterVersion(ctx context.Context, tx *sql.Tx, d dialect, owner string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, d.q(`UPDATE roster_versions SET version = version + 1
		WHERE owner = ? RETURNING version`), owner).Scan(&v)
	return v, err // sql.ErrNoRows: no such account
}

// scanRosterItem reads rosterColumns from a *sql.Row or *sql.Rows.
func scanRosterItem(row interface{ Scan(...any) error }) (RosterItem, error) {
	var it RosterItem
	var groups string
	err := row.Scan(&it.Contact, &it.Name, &it.Subscription, &it.AskOut, &it.PendingIn,
		&it.PendingInMsg, &it.Approved, &groups, &it.Hidden)
	if err != nil {
		return RosterItem{}, err
	}
	if groups != "" {
		if err := json.Unmarshal([]byte(groups), &it.Groups); err != nil {
			return RosterItem{}, err
		}
	}
	return it, nil
}

// encodeGroups stores group names as a JSON array in one column: they are
// only ever read with their item, so a table of their own would cost a
// join for nothing.
func encodeGroups(groups []string) (string, error) {
	if len(groups) == 0 {
		return "", nil
	}
	b, err := json.Marshal(groups)
	return string(b), err
}
