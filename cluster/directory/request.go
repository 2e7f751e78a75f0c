package directory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// A node can send an IQ request to a session on another node and get the
// answer back: the server's own requests to an external component (a
// push notification's publish, XEP-0357) are sent from the node where the
// event happened, and the component may be connected anywhere. Forwarding
// the request like any stanza would not do, since the answer comes back
// to the component's node. So the asking node asks the component's node
// (NATS request/reply on requestPrefix+its name) to send the request and
// wait for the answer there; the answer, or why there is none, comes back
// as the reply.
//
// Request: 8 bytes of deadline (Unix ns, big-endian), then the IQ
// serialized for a client. Reply: 'R' and the answer so serialized, or
// 'E' and the reason there is none.

const requestPrefix = "parley.iq."

// ErrRemoteRequest wraps the reason another node gave for not having an
// answer (the component was gone, or did not answer in time).
var ErrRemoteRequest = errors.New("directory: no answer from the other node")

// ServeRequests answers other nodes' requests with send, which delivers
// an IQ to a local session and waits for its answer until ctx ends
// (im.Server.RequestLocal). Call once, before serving.
func (d *Directory) ServeRequests(send func(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)) error {
	return d.subscribe(requestPrefix+d.name, func(msg *nats.Msg) {
		if len(msg.Data) < 8 {
			return
		}
		deadline := time.Unix(0, int64(binary.BigEndian.Uint64(msg.Data)))
		iq, err := stanza.ParseBytes(msg.Data[8:])
		if err != nil {
			d.log.Warn("directory: unreadable request", "err", err)
			return
		}
		// The answer may take a while: the subscription's goroutine goes
		// on with the next request meanwhile.
		d.background(func(bg context.Context) {
			ctx, cancel := context.WithDeadline(bg, deadline)
			defer cancel()
			reply, err := send(ctx, iq)
			var out []byte
			if err != nil {
				out = append([]byte{'E'}, err.Error()...)
			} else {
				out = reply.AppendXML([]byte{'R'}, stanza.NSClient)
			}
			if err := msg.Respond(out); err != nil {
				d.log.Warn("directory: answering a request failed", "err", err)
			}
		})
	})
}

// Request sends an IQ request to sess, a session on another node, through
// that node, and returns the answer (type result or error) or an error
// when there is none before ctx ends (which must have a deadline).
func (d *Directory) Request(ctx context.Context, sess *router.Session, iq *stanza.Element) (*stanza.Element, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("directory: a request needs a deadline")
	}
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 512), uint64(deadline.UnixNano()))
	b = iq.AppendXML(b, stanza.NSClient)
	msg, err := d.nc.RequestWithContext(ctx, requestPrefix+sess.Node(), b)
	if err != nil {
		return nil, err
	}
	if len(msg.Data) == 0 {
		return nil, ErrRemoteRequest
	}
	switch msg.Data[0] {
	case 'R':
		return stanza.ParseBytes(msg.Data[1:])
	case 'E':
		return nil, fmt.Errorf("%w: %s", ErrRemoteRequest, msg.Data[1:])
	}
	return nil, ErrRemoteRequest
}
