package storage

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testWriter runs a writer of ints over a scratch SQLite database with
// flush as its body.
func testWriter(t *testing.T, flush flushFunc[int]) *writer[int] {
	t.Helper()
	dsn, err := sqliteDSN(filepath.Join(t.TempDir(), "w.db"), true)
	must(t, err)
	db, err := sql.Open("sqlite", dsn)
	must(t, err)
	db.SetMaxOpenConns(1)
	w := newWriter("test", db, dialectSQLite, flush, slog.New(slog.DiscardHandler))
	t.Cleanup(func() {
		w.stop()
		db.Close()
	})
	return w
}

var errBad = errors.New("bad item")

func TestWriterRetriesAlone(t *testing.T) {
	checkLeaks(t)
	w := testWriter(t, func(_ context.Context, _ *sql.Tx, _ dialect, items []int) ([]error, error) {
		errs := make([]error, len(items))
		for i, it := range items {
			switch {
			case it == 13:
				return nil, errBad // fails the batch it is in
			case it%10 == 0:
				errs[i] = ErrQuota // rejects only itself
			}
		}
		return errs, nil
	})
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() { errs[i] = w.do(ctx, i) })
	}
	wg.Wait()
	for i, err := range errs {
		var want error
		switch {
		case i == 13:
			want = errBad
		case i%10 == 0:
			want = ErrQuota
		}
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("item %d: %v, want %v", i, err, want)
		}
	}
	if st := w.stats(); st.Rows != 50-1-5 {
		t.Errorf("stats %+v: want %d rows", st, 50-1-5)
	}
	w.stop()
	if err := w.do(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("do after stop: %v", err)
	}
}

// TestWriterBatchesWhileBusy holds the first commit until more requests
// have queued, and checks that they then share one transaction.
func TestWriterBatchesWhileBusy(t *testing.T) {
	checkLeaks(t)
	entered, release := make(chan int, 1), make(chan struct{})
	var sizes []int
	w := testWriter(t, func(_ context.Context, _ *sql.Tx, _ dialect, items []int) ([]error, error) {
		sizes = append(sizes, len(items)) // only the writer goroutine runs this
		select {
		case entered <- len(items):
			<-release
		default:
		}
		return make([]error, len(items)), nil
	})
	var observed []int // appended on the writer goroutine, read after stop
	obs := CommitObserver(func(name string, n int, took time.Duration) {
		if name != "test" || took <= 0 {
			t.Errorf("observed %q, %v", name, took)
		}
		observed = append(observed, n)
	})
	w.observe.Store(&[]CommitObserver{obs})
	var wg sync.WaitGroup
	wg.Go(func() { must(t, w.do(ctx, 0)) })
	if n := <-entered; n != 1 {
		t.Fatalf("first batch of %d, want 1: an idle writer must not wait", n)
	}
	for i := range 10 {
		wg.Go(func() { must(t, w.do(ctx, i+1)) })
	}
	eventually(t, func() bool { return len(w.reqs) == 10 })
	close(release)
	wg.Wait()
	w.stop()
	if len(sizes) != 2 || sizes[1] != 10 {
		t.Errorf("batch sizes %v, want [1 10]", sizes)
	}
	if len(observed) != 2 || observed[0] != 1 || observed[1] != 10 {
		t.Errorf("observer told of batches %v, want [1 10]", observed)
	}
	if st := w.stats(); st.Batches != 2 || st.Rows != 11 || st.MaxBatch != 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestWriterCallerGivesUp(t *testing.T) {
	checkLeaks(t)
	release := make(chan struct{})
	w := testWriter(t, func(_ context.Context, _ *sql.Tx, _ dialect, items []int) ([]error, error) {
		<-release
		return make([]error, len(items)), nil
	})
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := w.do(cctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("do = %v, want the deadline", err)
	}
	close(release)
}

// checkLeaks fails t if goroutines started during t outlive its cleanups.
func checkLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
