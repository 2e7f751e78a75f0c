package xmppclient

import (
	"net"
	"sync"
)

// wire is what the parser reads: the connection, after any bytes wait
// read ahead.
//
// The parser's errors are final, so a read deadline must not reach it
// while it waits for a stanza, or a test that checks "nothing arrives
// within 100ms" would break the client. wait therefore does the waiting
// for it, between stanzas, on a buffer borrowed only until the parser takes
// the bytes. A deadline that strikes inside a stanza still ends the client.
type wire struct {
	nc    net.Conn
	stash *[]byte // bytes read by wait, not yet handed over; nil when none
	off   int     // handed-over part of stash
	err   error   // a connection error met by wait, for the parser to see
	// tail is the last bytes handed to the parser, right-aligned, so that
	// unparsed buffered bytes that are only white space can be recognised.
	tail [16]byte
}

var stashPool = sync.Pool{New: func() any { b := make([]byte, 2048); return &b }}

func (w *wire) Read(p []byte) (int, error) {
	if w.stash != nil {
		n := copy(p, (*w.stash)[w.off:])
		w.off += n
		if w.off == len(*w.stash) {
			*w.stash = (*w.stash)[:cap(*w.stash)]
			stashPool.Put(w.stash)
			w.stash = nil
		}
		w.remember(p[:n])
		return n, nil
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.nc.Read(p)
	w.remember(p[:n])
	return n, err
}

func (w *wire) remember(b []byte) {
	if len(b) >= len(w.tail) {
		copy(w.tail[:], b[len(b)-len(w.tail):])
		return
	}
	copy(w.tail[:], w.tail[len(b):])
	copy(w.tail[len(w.tail)-len(b):], b)
}

// idle reports whether the parser, between stanzas with buffered unparsed
// bytes, has nothing but white space to go on.
func (w *wire) idle(buffered int) bool {
	if w.stash != nil || w.err != nil || buffered > len(w.tail) {
		return false
	}
	for _, c := range w.tail[len(w.tail)-buffered:] {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// wait blocks until the connection has bytes. It returns only deadline
// errors; others are kept for the parser, which reports them in the
// stream's terms (io.EOF between stanzas). White space read here lies
// between stanzas and is dropped.
func (w *wire) wait() error {
	for {
		bp := stashPool.Get().(*[]byte)
		n, err := w.nc.Read(*bp)
		if n > 0 && !allSpace((*bp)[:n]) {
			*bp = (*bp)[:n]
			w.stash, w.off = bp, 0
			if err != nil && !isTimeout(err) {
				w.err = err
			}
			return nil
		}
		stashPool.Put(bp)
		switch {
		case err == nil:
			continue
		case isTimeout(err):
			return err
		}
		w.err = err
		return nil
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func allSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}
