package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// SQL is the Store on SQLite or PostgreSQL.
//
// SQLite gets two pools on one file: a single writer connection, so writers
// queue in Go rather than spin on SQLITE_BUSY, and a reader pool, which WAL
// lets run beside it. PostgreSQL uses one pool for both.
type SQL struct {
	d       dialect
	r, w    *sql.DB // readers, writers; the same pool on PostgreSQL
	offline *writer[*offlineMsg]
	archive *writer[*archiveWrite]

	obsMu     sync.Mutex // serializes ObserveCommits
	observers []CommitObserver
}

var _ Store = (*SQL)(nil)

// Open connects to the database, applies pending migrations and starts the
// group-commit writer. driver is "sqlite", with dsn a file path (its
// directory is created), or "postgres", with dsn a libpq-style connection
// string or URL.
func Open(ctx context.Context, driver, dsn string, logger *slog.Logger) (*SQL, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &SQL{}
	var err error
	switch driver {
	case "sqlite":
		s.d = dialectSQLite
		err = s.openSQLite(dsn)
	case "postgres":
		s.d = dialectPostgres
		err = s.openPostgres(dsn)
	default:
		return nil, fmt.Errorf("storage: unknown driver %q (want sqlite or postgres)", driver)
	}
	if err != nil {
		return nil, err
	}
	if err := s.w.PingContext(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("storage: %s: %w", s.d, err)
	}
	if err := migrate(ctx, s.w, s.d, logger); err != nil {
		s.closeDBs()
		return nil, err
	}
	s.offline = newWriter(WriterOffline, s.w, s.d, flushOffline, logger)
	s.archive = newWriter(WriterArchive, s.w, s.d, flushArchive, logger)
	return s, nil
}

func (s *SQL) openSQLite(path string) error {
	wdsn, err := sqliteDSN(path, true)
	if err != nil {
		return err
	}
	rdsn, _ := sqliteDSN(path, false)
	if s.w, err = sql.Open("sqlite", wdsn); err != nil {
		return err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	if s.r, err = sql.Open("sqlite", rdsn); err != nil {
		s.w.Close()
		return err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	return nil
}

func (s *SQL) openPostgres(dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("storage: postgres: %w", err)
	}
	// Enough for the writer, the readers and a few slow transactions, well
	// under the server's default max_connections of 100 per node.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.r, s.w = db, db
	return nil
}

// Close stops the writer, after it has committed what was queued, and
// closes the database. Calls made after Close return ErrClosed.
func (s *SQL) Close() error {
	if !s.offline.stop() {
		return ErrClosed
	}
	s.archive.stop()
	return s.closeDBs()
}

func (s *SQL) closeDBs() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Stats reports what the group-commit writer of offline messages has
// done so far.
func (s *SQL) Stats() WriterStats { return s.offline.stats() }

// ArchiveStats reports what the group-commit writer of the archive has
// done so far.
func (s *SQL) ArchiveStats() WriterStats { return s.archive.stats() }

// ObserveCommits adds fn to those told of every transaction both
// group-commit writers commit from now on. Safe while they run.
func (s *SQL) ObserveCommits(fn CommitObserver) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	s.observers = append(slices.Clip(s.observers), fn)
	list := s.observers
	s.offline.observe.Store(&list)
	s.archive.observe.Store(&list)
}
