package c2s

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/parley-im/parley/stanza"
)

// idleReader sits between the connection and the parser and turns read
// deadlines into XMPP behaviour: before binding, the deadline is the
// authentication timeout; after binding, a client silent for the ping
// interval gets an XEP-0199 ping, and one silent for the ping timeout after
// that is gone (RFC 6120 §4.6.3: the server checks for dead connections).
// With limits.idle_timeout set, a bound client silent that long is closed
// even if it answers pings.
type idleReader struct {
	c        *conn
	pinged   bool
	armed    bool // a deadline for the bound state is set
	lastRead time.Time
	// spaceRun is how many bytes of white space end what Read returned,
	// counted while STARTTLS may still come (starttls.go).
	spaceRun int
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.do(func() (int, error) { return r.c.nc.Read(p) })
	if !r.c.secure && r.c.user.IsZero() {
		r.noteSpace(p[:n])
	}
	return n, err
}

// waitReadable blocks until the connection has bytes to read, holding no
// buffer meanwhile, so that an idle connection costs only its goroutine
// and a few small structs. It applies the same deadlines as Read. On
// connections that cannot wait without reading (TLS), it returns at once.
func (r *idleReader) waitReadable() error {
	sc, ok := r.c.nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	_, err = r.do(func() (int, error) {
		// Peek one byte without blocking: bytes (or EOF, or an error)
		// mean readable; EAGAIN makes the runtime park us in the poller
		// until the socket becomes readable, then ask again. Peeking
		// first matters: the poller is edge-triggered, and bytes already
		// in the kernel buffer would not wake us.
		var one [1]byte
		err := raw.Read(func(fd uintptr) bool {
			_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
		})
		if err != nil {
			return 0, err
		}
		return 1, nil
	})
	return err
}

// do runs one blocking read operation under the idle policy.
func (r *idleReader) do(op func() (int, error)) (int, error) {
	c := r.c
	cfg := &c.srv.cfg
	for {
		// A closing stream keeps the short deadline finishClose set.
		if c.sess != nil && !r.armed && (cfg.PingInterval > 0 || cfg.IdleTimeout > 0) && !c.out.isClosed() {
			_ = c.nc.SetReadDeadline(time.Now().Add(r.wait()))
			r.armed = true
		}
		n, err := op()
		if n > 0 || err == nil {
			r.pinged, r.armed = false, false
			if cfg.IdleTimeout > 0 {
				r.lastRead = time.Now()
			}
			return n, err
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || c.out.isClosed() {
			return n, err
		}
		switch {
		case c.sess == nil:
			return 0, stanza.NewStreamError(stanza.ConnectionTimeout, "authentication took too long")
		case cfg.IdleTimeout > 0 && !r.lastRead.IsZero() && time.Since(r.lastRead) >= cfg.IdleTimeout:
			return 0, stanza.NewStreamError(stanza.ConnectionTimeout, "idle for too long")
		case r.pinged || cfg.PingInterval == 0:
			if cfg.PingInterval == 0 {
				r.armed = false
				continue
			}
			return 0, stanza.NewStreamError(stanza.ConnectionTimeout, "no answer to ping")
		}
		r.pinged = true
		c.pingID = "ping-" + randomID(4)
		c.out.send(stanza.New("iq", stanza.NSClient, "type", "get", "id", c.pingID, "to", c.sess.JID().String(), "from", c.host).
			Append(stanza.New("ping", "urn:xmpp:ping")))
		d := cfg.PingTimeout
		if cfg.IdleTimeout > 0 {
			d = min(d, time.Until(r.lastRead.Add(cfg.IdleTimeout)))
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(d))
	}
}

// wait is how long a bound connection may stay silent before something
// happens: a ping or the idle timeout, whichever comes first.
func (r *idleReader) wait() time.Duration {
	cfg := &r.c.srv.cfg
	if r.lastRead.IsZero() {
		r.lastRead = time.Now()
	}
	d := cfg.PingInterval
	if cfg.IdleTimeout > 0 {
		left := time.Until(r.lastRead.Add(cfg.IdleTimeout))
		if d == 0 || left < d {
			d = left
		}
	}
	return max(d, time.Millisecond)
}
