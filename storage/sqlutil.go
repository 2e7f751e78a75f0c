package storage

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
)

// mustAffect turns an Exec that changed no row into ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// scanStrings reads a one-column result.
func scanStrings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// inTx runs fn in a transaction on the writer pool and commits it if fn
// returns nil.
func (s *SQL) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the first error is the one to report
		return err
	}
	return tx.Commit()
}

// Statements over a variable number of values are built with these. Lists
// are padded to a power of two, repeating their last value, so that only a
// few shapes of each statement are ever prepared and cached.

// marks returns n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rowMarks returns n parenthesised groups of width placeholders.
func rowMarks(n, width int) string {
	row := "(" + marks(width) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// padded returns vals as arguments, padded to a power of two by repeating
// the last one. vals must not be empty.
func padded(vals []string) []any {
	n := 1 << bits.Len(uint(len(vals)-1))
	args := make([]any, n)
	for i := range args {
		args[i] = vals[min(i, len(vals)-1)]
	}
	return args
}

// pow2Floor returns the largest power of two not above n > 0.
func pow2Floor(n int) int {
	return 1 << (bits.Len(uint(n)) - 1)
}
