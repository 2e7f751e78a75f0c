package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is the SQL engine behind a store. Queries are written once, with
// `?` placeholders and portable SQL; q rewrites them for PostgreSQL.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// rebound caches PostgreSQL spellings of queries, keyed by the `?` form.
var rebound sync.Map

// q returns query in d's placeholder syntax: `?` for SQLite, `$1`, `$2`,
// ... for PostgreSQL. Queries never hold a `?` inside a literal.
func (d dialect) q(query string) string {
	if d == dialectSQLite {
		return query
	}
	if s, ok := rebound.Load(query); ok {
		return s.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	rebound.Store(query, b.String())
	return b.String()
}

// isForeignKeyViolation reports whether err says a row's owner does not
// exist (an account deleted, or never created).
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// sqliteDSN turns a file path into the modernc.org/sqlite DSN of one of
// the two pools, creating the file's directory. The writer pool takes
// write locks at BEGIN, so a transaction that reads then writes cannot fail
// on lock upgrade; the reader pool refuses writes.
func sqliteDSN(path string, writer bool) (string, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// Two pools need one shared file; a URI would bypass our pragmas.
		return "", fmt.Errorf("storage: sqlite needs a plain file path, got %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", fmt.Errorf("storage: %w", err)
	}
	// SQLite parses the name as a URI: escape what would end the path.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := "file:" + esc + "?_busy_timeout=10000&_foreign_keys=1"
	if writer {
		// WAL is persistent in the file; FULL syncs the WAL at every
		// commit, which is what makes an acknowledged write durable.
		return dsn + "&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate", nil
	}
	return dsn + "&_query_only=1", nil
}
