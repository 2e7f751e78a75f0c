package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// The admin dashboard shows every node's metrics: the node asked takes
// its own snapshot and asks each other node for its own (NATS
// request/reply on statsPrefix+its name). The snapshot is opaque here
// (JSON made by the server).
//
// Reply: 'R' and the snapshot, or 'E' and why there is none.

const statsPrefix = "parley.stats."

// ErrRemoteStats wraps the reason another node gave for sending no
// snapshot.
var ErrRemoteStats = errors.New("directory: the other node sent no stats")

// ServeStats answers other nodes' requests for this node's stats with
// snapshot. Call once, before serving.
func (d *Directory) ServeStats(snapshot func() ([]byte, error)) error {
	return d.subscribe(statsPrefix+d.name, func(msg *nats.Msg) {
		b, err := snapshot()
		out := append([]byte{'R'}, b...)
		if err != nil {
			out = append([]byte{'E'}, err.Error()...)
		}
		if err := msg.Respond(out); err != nil {
			d.log.Warn("directory: answering a stats request failed", "err", err)
		}
	})
}

// NodeStats asks node for its stats snapshot, waiting until ctx ends.
func (d *Directory) NodeStats(ctx context.Context, node string) ([]byte, error) {
	msg, err := d.nc.RequestWithContext(ctx, statsPrefix+node, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case len(msg.Data) == 0:
		return nil, ErrRemoteStats
	case msg.Data[0] == 'R':
		return msg.Data[1:], nil
	case msg.Data[0] == 'E':
		return nil, fmt.Errorf("%w: %s", ErrRemoteStats, msg.Data[1:])
	}
	return nil, ErrRemoteStats
}
