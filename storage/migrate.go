package storage

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationTable records which migrations were applied.
const migrationTable = "schema_migrations"

// migrate applies the embedded migrations that db has not seen yet.
// On PostgreSQL a session advisory lock keeps nodes starting together from
// migrating at once.
func migrate(ctx context.Context, db *sql.DB, d dialect, logger *slog.Logger) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(migrationTable),
		goose.WithDisableGlobalRegistry(true),
	}
	gd := goose.DialectSQLite3
	if d == dialectPostgres {
		gd = goose.DialectPostgres
		sub = blobFS{sub}
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("storage: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("storage: migrate: %w", err)
	}
	for _, r := range res {
		logger.Info("storage: migration applied", "engine", d, "version", r.Source.Version, "took", r.Duration)
	}
	return nil
}

// blobFS serves the migrations with the binary type spelled for
// PostgreSQL: the files say BLOB, which PostgreSQL calls BYTEA. It is the
// only type the two engines spell differently.
type blobFS struct{ fs.FS }

var blobWord = regexp.MustCompile(`\bBLOB\b`)

func (b blobFS) Open(name string) (fs.File, error) {
	f, err := b.FS.Open(name)
	if err != nil || !strings.HasSuffix(name, ".sql") {
		return f, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, err
	}
	sql := blobWord.ReplaceAll(buf.Bytes(), []byte("BYTEA"))
	return &memFile{info: info, r: bytes.NewReader(sql)}, nil
}

// memFile is a rewritten migration file.
type memFile struct {
	info fs.FileInfo
	r    *bytes.Reader
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.info, nil }
func (m *memFile) Read(p []byte) (int, error) { return m.r.Read(p) }
func (m *memFile) Close() error               { return nil }
