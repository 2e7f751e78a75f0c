// Package stream is what the XMPP stream listeners share — clients (c2s),
// external components (component) and, to come, servers (s2s): the accept
// loop and the registry of open connections, with their limits and
// shutdown (Registry); recovery from a panic while serving one connection
// (Run); and the output queue that writes to a connection without making
// the writer wait for the network (Queue). It does not negotiate streams,
// parse them or know what a stanza means: each listener does that, and
// gives the queue hooks where it keeps state of its own (c2s's stream
// management).
package stream

import (
	"log/slog"
	"runtime/debug"

	"github.com/parley-im/parley/stanza"
)

// Run calls read, a connection's read loop, and returns its error. A panic
// in read is recovered, logged with its stack and what describe returns
// (evaluated then: who the connection was by that time; nil: nothing), and
// returned as internal-server-error: a bug costs one connection, not the
// server.
func Run(log *slog.Logger, msg string, read func() error, describe func() []any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			var args []any
			if describe != nil {
				args = describe()
			}
			args = append(args, "panic", p, "stack", string(debug.Stack()))
			log.Error(msg, args...)
			err = stanza.NewStreamError(stanza.StreamInternalError, "internal error")
		}
	}()
	return read()
}
