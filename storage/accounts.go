package storage

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// accountColumns are read and written in this order by Account and
// CreateAccount.
const accountColumns = `jid, domain, created,
	sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
	sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key`

// domainOf returns the domain part of a bare JID.
func domainOf(bare string) string {
	if _, d, ok := strings.Cut(bare, "@"); ok {
		return d
	}
	return bare
}

// CreateAccount implements Store. A zero Created is set to now.
func (s *SQL) CreateAccount(ctx context.Context, a Account) error {
	if a.Created.IsZero() {
		a.Created = time.Now()
	}
	return s.fail("create account", s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO accounts (`+accountColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (jid) DO NOTHING`),
			a.JID, domainOf(a.JID), a.Created.UnixMicro(),
			a.SHA1.Salt, a.SHA1.Iterations, a.SHA1.StoredKey, a.SHA1.ServerKey,
			a.SHA256.Salt, a.SHA256.Iterations, a.SHA256.StoredKey, a.SHA256.ServerKey)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrExists
		}
		// The per-owner counters, so that updating them needs no upsert.
		for _, q := range []string{
			`INSERT INTO roster_versions (owner, version) VALUES (?, 0)`,
			`INSERT INTO offline_heads (owner, last_id) VALUES (?, 0)`,
		} {
			if _, err := tx.ExecContext(ctx, s.d.q(q), a.JID); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Account implements Store.
func (s *SQL) Account(ctx context.Context, jid string) (Account, error) {
	var a Account
	var domain string
	var created int64
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+accountColumns+` FROM accounts WHERE jid = ?`), jid).Scan(
		&a.JID, &domain, &created,
		&a.SHA1.Salt, &a.SHA1.Iterations, &a.SHA1.StoredKey, &a.SHA1.ServerKey,
		&a.SHA256.Salt, &a.SHA256.Iterations, &a.SHA256.StoredKey, &a.SHA256.ServerKey)
	if err != nil {
		return Account{}, s.fail("account", err)
	}
	a.Created = time.UnixMicro(created).UTC()
	return a, nil
}

// SetCredentials implements Store.
func (s *SQL) SetCredentials(ctx context.Context, jid string, sha1, sha256 Credentials) error {
	res, err := s.w.ExecContext(ctx, s.d.q(`UPDATE accounts SET
		sha1_salt = ?, sha1_iterations = ?, sha1_stored_key = ?, sha1_server_key = ?,
		sha256_salt = ?, sha256_iterations = ?, sha256_stored_key = ?, sha256_server_key = ?
		WHERE jid = ?`),
		sha1.Salt, sha1.Iterations, sha1.StoredKey, sha1.ServerKey,
		sha256.Salt, sha256.Iterations, sha256.StoredKey, sha256.ServerKey, jid)
	return s.fail("set credentials", mustAffect(res, err))
}

// DeleteAccount implements Store. The foreign keys cascade to every row the
// account owns, in the same statement.
func (s *SQL) DeleteAccount(ctx context.Context, jid string) error {
	res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM accounts WHERE jid = ?`), jid)
	return s.fail("delete account", mustAffect(res, err))
}

// Accounts implements Store.
func (s *SQL) Accounts(ctx context.Context, domain string) ([]string, error) {
	var rows *sql.Rows
	var err error
	if domain == "" {
		rows, err = s.r.QueryContext(ctx, `SELECT jid FROM accounts ORDER BY jid`)
	} else {
		rows, err = s.r.QueryContext(ctx, s.d.q(`SELECT jid FROM accounts WHERE domain = ? ORDER BY jid`), domain)
	}
	jids, err := scanStrings(rows, err)
	return jids, s.fail("accounts", err)
}

// AccountsPage implements Store. Byte order on both engines: PostgreSQL
// sorts by the database's collation unless told "C".
func (s *SQL) AccountsPage(ctx context.Context, domain, after string, limit int) ([]string, error) {
	order := `jid`
	if s.d == dialectPostgres {
		order = `jid COLLATE "C"`
	}
	q := `SELECT jid FROM accounts WHERE ` + order + ` > ?`
	args := []any{after}
	if domain != "" {
		q += ` AND domain = ?`
		args = append(args, domain)
	}
	q += ` ORDER BY ` + order + ` LIMIT ?`
	args = append(args, limit)
	jids, err := scanStrings(s.r.QueryContext(ctx, s.d.q(q), args...))
	return jids, s.fail("accounts page", err)
}
