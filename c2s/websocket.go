package c2s

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// WebSocket carries client streams over HTTP (RFC 7395). Each connection
// is wrapped in a net.Conn (wsConn) that translates the framing (see
// framing.go), so the stream is served by the same code as a TCP one;
// it differs only in what the transport already provides: no STARTTLS
// (TLS, if any, is the HTTP connection's, possibly ended by a reverse
// proxy in front), no see-other-host when the node drains (the client
// reconnects to the URL it knows), no stream management location.

// WebSocketOptions configure the WebSocket endpoint.
type WebSocketOptions struct {
	// OriginPatterns are the web origins (host patterns, as in
	// websocket.AcceptOptions) allowed besides the server's own.
	OriginPatterns []string
	// Client returns the client's address and whether its connection is
	// encrypted end to end (https, or a trusted proxy's X-Forwarded-*).
	Client func(r *http.Request) (addr net.Addr, secure bool)
}

// WebSocketHandler serves XMPP over WebSocket on an HTTP endpoint.
func (s *Server) WebSocketHandler(opts WebSocketOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !offersXMPP(r) {
			http.Error(w, "XMPP over WebSocket needs the 'xmpp' subprotocol (RFC 7395 §3.1)", http.StatusBadRequest)
			return
		}
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols:   []string{"xmpp"},
			OriginPatterns: opts.OriginPatterns,
		})
		if err != nil {
			s.log.Debug("c2s: websocket upgrade refused", "remote", r.RemoteAddr, "err", err)
			return // Accept answered the request
		}
		if limit := s.cfg.Limits.MaxStanzaBytes; limit > 0 {
			ws.SetReadLimit(int64(limit) + 1024)
		}
		addr, secure := opts.Client(r)
		nc := newWSConn(ws, addr, secure)
		if !s.admit(nc) {
			return
		}
		c := newConn(s, nc, false)
		c.ws, c.secure = true, secure
		s.wg.Add(1)
		done := make(chan struct{})
		go c.serve(func() {
			s.forget(c)
			s.wg.Done()
			close(done)
		})
		<-done
	})
}

func offersXMPP(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range splitComma(v) {
			if p == "xmpp" {
				return true
			}
		}
	}
	return false
}

func splitComma(s string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || s[i] == ',' {
				f := s[start:i]
				for len(f) > 0 && (f[0] == ' ' || f[0] == '\t') {
					f = f[1:]
				}
				for len(f) > 0 && (f[len(f)-1] == ' ' || f[len(f)-1] == '\t') {
					f = f[:len(f)-1]
				}
				if !yield(f) {
					return
				}
				start = i + 1
			}
		}
	}
}

// WebSocketConn wraps an XMPP WebSocket (either end) as a net.Conn that
// carries the stream in TCP framing: what the peer sends in RFC 7395
// framing is read as TCP stream bytes, and stream bytes written are sent
// as RFC 7395 messages. A test client uses it to speak TCP-framed XMPP
// over a WebSocket.
func WebSocketConn(ws *websocket.Conn, remote net.Addr) net.Conn {
	return newWSConn(ws, remote, false)
}

// wsConn is a WebSocket connection seen as a TCP-framed XMPP stream.
// Reads come from a goroutine that reads whole messages, so that a read
// deadline (the c2s idle policy) can expire without closing the
// connection, which a cancelled WebSocket read would.
type wsConn struct {
	ws     *websocket.Conn
	remote net.Addr
	secure bool

	msgs chan []byte // translated messages; closed when reading ends
	rerr error       // why reading ended; set before msgs is closed
	cur  []byte      // the rest of the message being read

	dmu       sync.Mutex    // guards the deadlines and rest
	moved     chan struct{} // a read deadline was set (wakes a waiting Read)
	readDL    time.Time
	writeDL   time.Time
	rest      []byte // written bytes not yet a whole element
	closeOnce sync.Once
}

func newWSConn(ws *websocket.Conn, remote net.Addr, secure bool) *wsConn {
	c := &wsConn{ws: ws, remote: remote, secure: secure, msgs: make(chan []byte, 1), moved: make(chan struct{}, 1)}
	go c.readLoop()
	return c
}

func (c *wsConn) readLoop() {
	defer close(c.msgs)
	for {
		typ, b, err := c.ws.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				err = io.EOF // the client closed the WebSocket
			}
			c.rerr = err
			return
		}
		if typ != websocket.MessageText {
			c.rerr = errors.New("c2s: binary WebSocket message (RFC 7395 allows text only)")
			_ = c.ws.Close(websocket.StatusUnsupportedData, "text messages only")
			return
		}
		c.msgs <- StreamFromWebSocket(b)
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *wsConn) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		c.dmu.Lock()
		dl := c.readDL
		c.dmu.Unlock()
		var expire <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, timeoutError{}
			}
			t = time.NewTimer(d)
			expire = t.C
		}
		select {
		case m, ok := <-c.msgs:
			if !ok {
				stopTimer(t)
				return 0, c.rerr
			}
			c.cur = m
		case <-expire:
			return 0, timeoutError{}
		case <-c.moved: // look at the new deadline
		}
		stopTimer(t)
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// Write sends the whole elements in b, one message each.
func (c *wsConn) Write(b []byte) (int, error) {
	c.dmu.Lock()
	data := append(c.rest, b...)
	msgs, rest := WebSocketFromStream(data)
	c.rest = append([]byte(nil), rest...)
	dl := c.writeDL
	c.dmu.Unlock()
	ctx := context.Background()
	if !dl.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	for _, m := range msgs {
		if err := c.ws.Write(ctx, websocket.MessageText, m); err != nil {
			return 0, err
		}
		if len(m) > 6 && string(m[:6]) == "<close" {
			_ = c.Close()
		}
	}
	return len(b), nil
}

func (c *wsConn) Close() error {
	// The closing handshake waits (up to 5 s) for the client's close
	// frame; nobody needs to wait for it.
	c.closeOnce.Do(func() { go func() { _ = c.ws.Close(websocket.StatusNormalClosure, "") }() })
	return nil
}

func (c *wsConn) LocalAddr() net.Addr  { return wsAddr("local") }
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }

func (c *wsConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDL = t
	c.dmu.Unlock()
	select {
	case c.moved <- struct{}{}:
	default:
	}
	return nil
}

func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.writeDL = t
	c.dmu.Unlock()
	return nil
}

type wsAddr string

func (a wsAddr) Network() string { return "websocket" }
func (a wsAddr) String() string  { return string(a) }
