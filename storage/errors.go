package storage

import (
	"database/sql"
	"errors"
	"fmt"
)

// fail gives an error the storage vocabulary: our sentinels pass through,
// after Close it is ErrClosed, a missing row or owner is ErrNotFound, and
// anything else is wrapped with what was being done.
func (s *SQL) fail(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrExists),
		errors.Is(err, ErrQuota), errors.Is(err, ErrClosed):
		return err
	case s.offline.isClosed():
		return ErrClosed
	case errors.Is(err, sql.ErrNoRows), isForeignKeyViolation(err):
		return ErrNotFound
	}
	return fmt.Errorf("storage: %s: %w", what, err)
}
