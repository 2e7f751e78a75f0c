package xmppclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/parley-im/parley/stanza"
)

// read returns the next top-level element from the wire.
func (c *Client) read() (*stanza.Element, error) {
	if c.rerr != nil {
		return nil, c.rerr
	}
	c.reading.Store(true)
	defer c.reading.Store(false)
	for {
		if c.wire.idle(c.parser.Buffered()) {
			if err := c.wire.wait(); err != nil {
				return nil, err
			}
		}
		el, header, err := c.parser.Next()
		if err != nil {
			// The parser's *stanza.StreamError is about the server's XML;
			// it must not pass for a <stream:error/> the server sent.
			var se *stanza.StreamError
			if errors.As(err, &se) {
				err = fmt.Errorf("%w: bad XML from server: %v", ErrProtocol, se)
			}
			c.rerr = err
			return nil, err
		}
		if header {
			c.header = el
			c.opened.Store(true)
			continue
		}
		if el.Is("error", stanza.NSStream) {
			return nil, parseStreamError(el)
		}
		return el, nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// longAgo is a deadline in the past: it wakes a blocked read.
var longAgo = time.Unix(1, 0)

// watch makes reads honour ctx until the returned function is called: its
// deadline, when sooner than SetReadDeadline's, and its cancellation.
// context.AfterFunc starts no goroutine unless ctx ends.
func (c *Client) watch(ctx context.Context) (restore func()) {
	nc := c.nc
	changed := false
	if dl, ok := ctx.Deadline(); ok && (c.rdl.IsZero() || dl.Before(c.rdl)) {
		_ = nc.SetReadDeadline(dl)
		changed = true
	}
	if ctx.Done() == nil {
		if !changed {
			return func() {}
		}
		return func() { _ = nc.SetReadDeadline(c.rdl) }
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = nc.SetReadDeadline(longAgo)
		close(fired)
	})
	return func() {
		if !stop() {
			<-fired
		}
		_ = nc.SetReadDeadline(c.rdl)
	}
}

// ctxError reports a read that timed out because ctx ended as ctx's error.
func ctxError(ctx context.Context, err error) error {
	if !isTimeout(err) {
		return err
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

// StartReader starts the optional reader: a goroutine that reads until the
// stream ends, ctx is done or a read fails, passing each element (those
// Expect set aside first) to handle, except replies to Requests, which go
// to their callers. The channel receives the error that ended it:
// stanza.ErrStreamClosed when the server closed the stream. Starting a
// second reader fails with ErrReaderActive.
func (c *Client) StartReader(ctx context.Context, handle func(*stanza.Element)) <-chan error {
	res := make(chan error, 1)
	c.mu.Lock()
	if c.runDone != nil {
		c.mu.Unlock()
		res <- ErrReaderActive
		return res
	}
	done := make(chan struct{})
	c.runDone = done
	c.mu.Unlock()
	go func() {
		err := c.run(ctx, handle)
		c.mu.Lock()
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
		c.pending, c.runDone = nil, nil
		c.mu.Unlock()
		close(done)
		res <- err
	}()
	return res
}

func (c *Client) run(ctx context.Context, handle func(*stanza.Element)) error {
	for len(c.backlog) > 0 {
		c.dispatch(c.takeBacklog(0), handle)
	}
	restore := c.watch(ctx)
	defer restore()
	for {
		el, err := c.read()
		if err != nil {
			return ctxError(ctx, err)
		}
		c.dispatch(el, handle)
	}
}

func (c *Client) dispatch(el *stanza.Element, handle func(*stanza.Element)) {
	if el.Name == "iq" && (el.Type() == "result" || el.Type() == "error") {
		c.mu.Lock()
		ch, ok := c.pending[el.ID()]
		delete(c.pending, el.ID())
		c.mu.Unlock()
		if ok {
			ch <- el
			return
		}
	}
	handle(el)
}

func (c *Client) isRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runDone != nil
}

// await registers a Request id with the reader; nil when there is none.
func (c *Client) await(id string) chan *stanza.Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runDone == nil {
		return nil
	}
	if c.pending == nil {
		c.pending = make(map[string]chan *stanza.Element)
	}
	ch := make(chan *stanza.Element, 1)
	c.pending[id] = ch
	return ch
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// closeWait is how long Close waits for the server's </stream:stream>.
const closeWait = 2 * time.Second

// Close ends the stream (RFC 6120 §4.4): it sends </stream:stream>, waits
// briefly for the server's, and closes the connection. Call it from the
// reading goroutine or while StartReader's reader runs; it is idempotent.
func (c *Client) Close() error {
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	wait := min(closeWait, c.cfg.Timeout)
	open := c.opened.Load()
	if open {
		_ = c.write([]byte(stanza.StreamEnd))
	}
	c.wmu.Lock()
	c.wclosed = true
	nc := c.nc
	c.wmu.Unlock()

	c.mu.Lock()
	done := c.runDone
	c.mu.Unlock()
	switch {
	case done != nil:
		t := time.NewTimer(wait)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	case open && !c.reading.Load():
		// Drain until the server's end tag, an error or the wait is over.
		c.rdl = time.Now().Add(wait)
		_ = nc.SetReadDeadline(c.rdl)
		for c.rerr == nil {
			if _, err := c.read(); err != nil && isTimeout(err) {
				break
			}
		}
	}
	return nc.Close()
}
