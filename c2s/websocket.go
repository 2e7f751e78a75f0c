package c2s

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"

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
		nc := newWSConn(ws, addr)
		if !s.conns.Admit(nc) {
			return
		}
		c := newConn(s, nc, false)
		c.web, c.secure, c.transport = true, secure, transportWebSocket
		done := make(chan struct{})
		s.start(c, func() { close(done) })
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
	return newWSConn(ws, remote)
}

// newWSConn wraps a WebSocket as a msgConn: a goroutine reads whole
// messages, so that a read deadline (the c2s idle policy) can expire
// without closing the connection, which a cancelled WebSocket read would.
func newWSConn(ws *websocket.Conn, remote net.Addr) *msgConn {
	c := newMsgConn(remote)
	c.send = func(ctx context.Context, msgs [][]byte) error {
		for _, m := range msgs {
			if err := ws.Write(ctx, websocket.MessageText, m); err != nil {
				return err
			}
			if bytes.HasPrefix(m, []byte("<close")) {
				_ = c.Close()
			}
		}
		return nil
	}
	// The closing handshake waits (up to 5 s) for the client's close
	// frame; nobody needs to wait for it.
	c.closeFn = func() { go func() { _ = ws.Close(websocket.StatusNormalClosure, "") }() }
	go func() {
		for {
			typ, b, err := ws.Read(context.Background())
			if err != nil {
				if websocket.CloseStatus(err) != -1 {
					err = io.EOF // the client closed the WebSocket
				}
				c.endInput(err)
				return
			}
			if typ != websocket.MessageText {
				_ = ws.Close(websocket.StatusUnsupportedData, "text messages only")
				c.endInput(errors.New("c2s: binary WebSocket message (RFC 7395 allows text only)"))
				return
			}
			if !c.put(StreamFromWebSocket(b)) {
				return
			}
		}
	}()
	return c
}
