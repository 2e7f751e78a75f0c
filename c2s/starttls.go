package c2s

import "net"

// White space after <starttls/> (RFC 6120 §5.4.3.3 says nothing against
// it, and clients that end every element with a newline send it) is
// harmless: it may sit read but unparsed in the parser's buffer when the
// command is handled, or reach the socket after <proceed/> went out, ahead
// of the ClientHello. Anything else pipelined after the command is the
// STARTTLS injection attack (CVE-2011-0411 and kin) and ends the stream.

// noteSpace keeps count of the white space that ends what the parser has
// read so far, so that onStartTLS can tell whether the bytes it has
// buffered but not parsed are white space only (the unparsed bytes are
// always the last ones read).
func (r *idleReader) noteSpace(b []byte) {
	i := len(b)
	for i > 0 && isSpace(b[i-1]) {
		i--
	}
	if i == 0 {
		r.spaceRun += len(b)
	} else {
		r.spaceRun = len(b) - i
	}
}

// onlySpaceBuffered reports whether the parser's unparsed bytes, if any,
// are white space.
func (c *conn) onlySpaceBuffered() bool {
	return c.parser.Buffered() <= c.idle.spaceRun
}

// skipSpaceConn is the raw connection as the server side of the TLS
// handshake after STARTTLS reads it: white space before the first byte of
// the handshake is dropped. A TLS record starts with its content type (22
// for the ClientHello), never with white space, so no handshake byte is
// lost or reordered; once one non-space byte has gone through, every read
// passes straight through.
type skipSpaceConn struct {
	net.Conn
	started bool
}

func (s *skipSpaceConn) Read(p []byte) (int, error) {
	for !s.started && len(p) > 0 {
		n, err := s.Conn.Read(p)
		i := 0
		for i < n && isSpace(p[i]) {
			i++
		}
		if i < n {
			s.started = true
			return copy(p, p[i:n]), err
		}
		if err != nil {
			return 0, err
		}
	}
	return s.Conn.Read(p)
}
