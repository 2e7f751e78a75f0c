package storage

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch caps how many requests share one transaction.
const maxBatch = 256

// batchTimeout bounds one batch transaction, so a stuck database fails the
// callers instead of holding them forever.
const batchTimeout = 30 * time.Second

// WriterStats counts the group-commit writer's work.
type WriterStats struct {
	Batches  uint64 // transactions committed
	Rows     uint64 // requests committed in them
	MaxBatch uint64 // most requests committed in one transaction
}

// Writer names, as CommitObserver is told them.
const (
	WriterOffline = "offline" // offline messages (Stats)
	WriterArchive = "archive" // the message archive (ArchiveStats)
)

// A CommitObserver is told of every transaction a group-commit writer
// committed: how many requests it held and how long it took, from BEGIN
// to COMMIT. It runs on the writer's goroutine, so it must be quick.
type CommitObserver func(writer string, requests int, took time.Duration)

// flushFunc writes a batch of items in tx. It returns each item's own
// rejection (only ErrQuota or ErrNotFound, leaving tx usable), or an error
// that fails the whole batch.
type flushFunc[T any] func(ctx context.Context, tx *sql.Tx, d dialect, items []T) ([]error, error)

type request[T any] struct {
	ctx  context.Context
	item T
	done chan error // buffered: the writer never blocks answering
}

// writer commits durable appends of one kind in batches. Requests queue on
// reqs; the writer goroutine takes whatever is queued (up to maxBatch),
// writes it in one transaction and answers every caller after the commit.
// An idle writer commits the first request at once; batches form while a
// commit is in flight, so there is no timer and no added latency.
type writer[T any] struct {
	name   string // WriterOffline or WriterArchive
	db     *sql.DB
	d      dialect
	flush  flushFunc[T]
	logger *slog.Logger
	reqs   chan *request[T]

	// mu orders sends before the close of reqs: senders hold it shared
	// while they check closed and enqueue; stop holds it exclusively to set
	// closed and close reqs. closed is atomic so that isClosed need not
	// wait for a stop in progress.
	mu     sync.RWMutex
	closed atomic.Bool
	done   chan struct{} // closed when the goroutine has exited

	batches, rows, maxBatch atomic.Uint64
	observe                 atomic.Pointer[[]CommitObserver] // nil: nobody listens
}

func newWriter[T any](name string, db *sql.DB, d dialect, flush flushFunc[T], logger *slog.Logger) *writer[T] {
	w := &writer[T]{
		name:   name,
		db:     db,
		d:      d,
		flush:  flush,
		logger: logger,
		reqs:   make(chan *request[T], maxBatch),
		done:   make(chan struct{}),
	}
	go w.run()
	return w
}

// do writes item in a writer transaction and returns once it is
// committed, or ctx is done. A request cancelled after it was queued may
// still commit.
func (w *writer[T]) do(ctx context.Context, item T) error {
	r := &request[T]{ctx: ctx, item: item, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed.Load() {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop closes the queue and waits until everything queued is committed
// and the goroutine has exited. It reports false if already stopped.
func (w *writer[T]) stop() bool {
	w.mu.Lock()
	if w.closed.Load() {
		w.mu.Unlock()
		<-w.done
		return false
	}
	w.closed.Store(true)
	close(w.reqs)
	w.mu.Unlock()
	<-w.done
	return true
}

func (w *writer[T]) isClosed() bool { return w.closed.Load() }

func (w *writer[T]) stats() WriterStats {
	return WriterStats{
		Batches:  w.batches.Load(),
		Rows:     w.rows.Load(),
		MaxBatch: w.maxBatch.Load(),
	}
}

func (w *writer[T]) run() {
	defer close(w.done)
	batch := make([]*request[T], 0, maxBatch)
	for r := range w.reqs {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.commit(batch)
		clear(batch) // drop references to answered requests
	}
}

// commit writes reqs in one transaction and answers them. If the
// transaction fails, each request is retried alone, so one bad request (or
// a conflict with another node) does not fail the others.
func (w *writer[T]) commit(reqs []*request[T]) {
	live := reqs[:0:0]
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // the caller gave up before we started
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	errs, err := w.tx(live)
	if err == nil {
		for i, r := range live {
			r.done <- errs[i]
		}
		return
	}
	if len(live) == 1 {
		live[0].done <- err
		return
	}
	w.logger.Warn("storage: batch failed, retrying requests one by one", "requests", len(live), "err", err)
	for _, r := range live {
		errs, err := w.tx([]*request[T]{r})
		if err == nil {
			err = errs[0]
		}
		r.done <- err
	}
}

// tx writes reqs in one transaction. errs holds each request's own
// rejection; err, the driver's error, is set when the transaction as a
// whole failed. The caller's method gives it the storage vocabulary.
func (w *writer[T]) tx(reqs []*request[T]) (errs []error, err error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	items := make([]T, len(reqs))
	for i, r := range reqs {
		items[i] = r.item
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	errs, err = w.flush(ctx, tx, w.d, items)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if obs := w.observe.Load(); obs != nil {
		d := time.Since(start)
		for _, o := range *obs {
			o(w.name, len(reqs), d)
		}
	}
	var ok uint64
	for _, e := range errs {
		if e == nil {
			ok++
		}
	}
	w.batches.Add(1)
	w.rows.Add(ok)
	for {
		m := w.maxBatch.Load()
		if ok <= m || w.maxBatch.CompareAndSwap(m, ok) {
			break
		}
	}
	return errs, nil
}
