package stream_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/stream"
	"github.com/parley-im/parley/stanza"
)

// A panic in a read loop comes back as internal-server-error, logged with
// its stack and what describe says then.
func TestRunRecovers(t *testing.T) {
	var log bytes.Buffer
	who := "nobody"
	err := stream.Run(slog.New(slog.NewTextHandler(&log, nil)), "panic serving", func() error {
		who = "alice"
		panic("boom")
	}, func() []any { return []any{"who", who} })
	var se *stanza.StreamError
	if !errors.As(err, &se) || se.Condition != stanza.StreamInternalError {
		t.Fatalf("err %v, want internal-server-error", err)
	}
	for _, want := range []string{"panic serving", "who=alice", "boom", "stream_test.go"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q: %s", want, log.String())
		}
	}
	if err := stream.Run(slog.Default(), "x", func() error { return io.EOF }, nil); err != io.EOF {
		t.Errorf("no panic: %v, want the loop's error", err)
	}
}

// peer is a stream.Peer over one end of a net.Pipe.
type peer struct {
	stream.NoHooks
	nc         net.Conn
	overflowed chan struct{}
}

func (p *peer) ConnLocked() net.Conn { return p.nc }
func (p *peer) WriteFailed(net.Conn) {}
func (p *peer) Overflowed()          { close(p.overflowed) }

func newQueue(t *testing.T, max int) (*stream.Queue, *peer, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	p := &peer{nc: a, overflowed: make(chan struct{})}
	q := new(stream.Queue)
	q.Init(p, &stream.QueueConfig{NS: "jabber:client", Max: max}, nil)
	return q, p, b
}

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func text(s string) func([]byte) []byte { return func(b []byte) []byte { return append(b, s...) } }

// Inline, Send writes before it returns; asynchronous, a flusher does,
// and the closing tag comes after what was queued before it.
func TestQueueWrites(t *testing.T) {
	q, _, far := newQueue(t, 0)
	go func() { q.Send(text("<a/>")) }()
	if got := readN(t, far, 4); got != "<a/>" {
		t.Fatalf("inline: %q", got)
	}
	q.Async()
	for _, s := range []string{"<b/>", "<c/>"} {
		if !q.Send(text(s)) {
			t.Fatal("refused")
		}
	}
	q.Close(stanza.NewStreamError(stanza.SystemShutdown, ""))
	if q.Send(text("<d/>")) {
		t.Error("taken after close")
	}
	want := "<b/><c/><stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
	if got := readN(t, far, len(want)); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	q.WaitClosed(5 * time.Second)
	if q.Close(nil) {
		t.Error("closed twice")
	}
}

// A peer that lets more than the limit pile up is cut off.
func TestQueueLimit(t *testing.T) {
	q, p, far := newQueue(t, 10)
	q.Async()
	q.Send(text(strings.Repeat("x", 11))) // nobody reads: the flusher blocks or the limit hits
	for q.Send(text(strings.Repeat("y", 11))) && !q.Closed() {
	}
	select {
	case <-p.overflowed:
	case <-time.After(5 * time.Second):
		t.Fatal("not cut off")
	}
	_ = far.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(far); err != nil && !errors.Is(err, io.EOF) {
		t.Logf("read after abort: %v", err)
	}
	q.WaitClosed(5 * time.Second)
}

type testConn struct {
	nc net.Conn
}

func (c *testConn) Cut() { _ = c.nc.Close() }

// The registry applies the limits, refusing with the stream error, and
// shutdown closes what is open, then cuts what does not end in time.
func TestRegistry(t *testing.T) {
	refused := make(chan stanza.StreamCondition, 4)
	r := stream.NewRegistry[*testConn](stream.Limits{Max: 2, PerIP: 1}, func(nc net.Conn, why *stanza.StreamError) {
		_ = nc.Close()
		refused <- why.Condition
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var served []net.Conn
	serveDone := make(chan error, 1)
	go func() {
		serveDone <- r.Serve(l, func(nc net.Conn) {
			if !r.Admit(nc) {
				return
			}
			c := &testConn{nc}
			r.Start(c, nc, func(done func()) {
				defer done()
				mu.Lock()
				served = append(served, nc)
				mu.Unlock()
				_, _ = io.Copy(io.Discard, nc) // until cut
			})
		})
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	dial()
	deadline := time.Now().Add(5 * time.Second)
	for r.Count() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	dial() // the same address: over PerIP
	select {
	case c := <-refused:
		if c != stanza.StreamPolicyViolation {
			t.Errorf("refused with %s, want policy-violation", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not refused")
	}
	if open := r.StopAccepting(); len(open) != 1 {
		t.Errorf("%d open, want 1", len(open))
	}
	if err := <-serveDone; !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Serve: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait: %v, want the deadline (the connection was cut)", err)
	}
	if r.Count() != 0 {
		t.Errorf("%d still open", r.Count())
	}
}
