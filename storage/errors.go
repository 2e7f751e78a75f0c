package storage

import (
	"database/sql"
	"errors"
	"fmt"
)

// wrapErr gives a driver error the storage vocabulary: a missing row or
// owner is ErrNotFound, our sentinels pass through, anything else is
// wrapped with what was being done.
func wrapErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrExists),
		errors.Is(err, ErrQuota), errors.Is(err, ErrClosed):
		return err
	case errors.Is(err, sql.ErrNoRows), isForeignKeyViolation(err):
		return ErrNotFound
	}
	return fmt.Errorf("storage: %s: %w", what, err)
}

// fail is wrapErr for methods of s, which also knows that s is closed.
func (s *SQL) fail(what string, err error) error {
	if err != nil && s.offline.isClosed() {
		return ErrClosed
	}
	return wrapErr(what, err)
}
