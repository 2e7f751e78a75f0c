package directory

import (
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/parley-im/parley/jid"
)

// Node messages are acknowledged. NATS delivers at most once: a batch in
// flight when a route breaks is gone, and a stanza with it. So each batch
// an outbox publishes opens with a header record (op "seq") naming its
// stream and number; the receiving node processes a stream's batches in
// order, once each, and acknowledges the last one it processed on
// ackPrefix+<sender>; the sender keeps every batch until it is
// acknowledged, publishes again what is unacknowledged after resendAfter
// (a route that broke and came back), and, when the receiving node leaves
// or dies, hands the stanzas it never acknowledged back to the core, which
// routes them as for a session that is gone (other resources, offline
// storage — Directory.missed).
//
// A stream is one sender run talking to one receiver run from one start:
// "<sender run>.<epoch>", the epoch counting the sender's restarts of the
// numbering (a receiver that died, or came back under a new run). The
// header's text is the receiver run the sender addressed: a batch meant
// for an earlier run of this node is not processed (its sender reroutes
// it when it learns that run is over).

const (
	opSeq     = "seq"
	ackPrefix = "parley.ack."

	// ackDelay gathers the acknowledgements of a burst into one message.
	ackDelay = 20 * time.Millisecond
	// resendAfter is how long a batch waits for its acknowledgement before
	// it is published again.
	resendAfter = time.Second
	// maxUnacked bounds what an outbox keeps for a node that does not
	// acknowledge (it will be declared dead, or ack, long before).
	maxUnacked = 64 << 20
)

// sentBatch is a published batch waiting for its acknowledgement.
type sentBatch struct {
	seq  uint64
	data []byte // header and records, as published
	at   time.Time
}

// inbound is what a node knows of the batches another node sends it.
type inbound struct {
	mu      sync.Mutex
	stream  string
	last    uint64            // the last batch processed in order
	pending map[uint64][]byte // arrived ahead of a missing one
	acking  bool              // an acknowledgement is scheduled
}

// frameBatch returns a batch's records behind its header: op seq, to the
// stream, meta the number, text the receiver run addressed, xml the
// sending node's name.
func frameBatch(from, stream, peerRun string, seq uint64, recs []byte) []byte {
	h := appendRecord(nil, opSeq, stream, strconv.FormatUint(seq, 10), peerRun, []byte(from), nil)
	b := make([]byte, 0, len(h)+len(recs))
	return append(append(b, h...), recs...)
}

// unframe splits a node message into its header and records; ok is false
// for a message without a header.
func unframe(b []byte) (h record, recs []byte, ok bool) {
	if len(b) < 4 {
		return record{}, b, false
	}
	size := int(binary.BigEndian.Uint32(b))
	if size > len(b)-4 {
		return record{}, b, false
	}
	h, err := decodeRecord(b[4 : 4+size])
	if err != nil || h.op != opSeq {
		return record{}, b, false
	}
	return h, b[4+size:], true
}

// receive processes a framed batch from node: in order and once.
func (d *Directory) receive(node string, h record, recs []byte) {
	if h.text != "" && h.text != d.run {
		return // for an earlier run of this node
	}
	seq, err := strconv.ParseUint(h.meta, 10, 64)
	if err != nil {
		return
	}
	d.inMu.Lock()
	in := d.inbound[node]
	if in == nil {
		in = &inbound{}
		d.inbound[node] = in
	}
	d.inMu.Unlock()

	in.mu.Lock()
	if in.stream != h.to {
		in.stream, in.last, in.pending = h.to, 0, nil
	}
	var run [][]byte
	switch {
	case seq <= in.last:
		// Sent again; processed already. Acknowledge again below.
	case seq == in.last+1:
		run = append(run, recs)
		in.last = seq
		for {
			next, ok := in.pending[in.last+1]
			if !ok {
				break
			}
			delete(in.pending, in.last+1)
			run = append(run, next)
			in.last++
		}
	default:
		if in.pending == nil {
			in.pending = make(map[uint64][]byte)
		}
		in.pending[seq] = recs
	}
	schedule := !in.acking
	in.acking = true
	in.mu.Unlock()
	// One subscription's callbacks run one at a time: batches are
	// processed in order without holding in.mu.
	for _, b := range run {
		d.stats.receivedBatches.Add(1)
		if err := records(b, d.handle); err != nil {
			d.log.Warn("directory: unreadable node message", "from", node, "err", err)
		}
	}
	if schedule {
		time.AfterFunc(ackDelay, func() { d.ack(node, in) })
	}
}

// ack tells node the last of its batches processed.
func (d *Directory) ack(node string, in *inbound) {
	in.mu.Lock()
	in.acking = false
	msg := d.name + "\x00" + in.stream + "\x00" + strconv.FormatUint(in.last, 10)
	in.mu.Unlock()
	if err := d.nc.Publish(ackPrefix+node, []byte(msg)); err != nil {
		d.log.Debug("directory: acknowledgement not sent", "to", node, "err", err)
	}
}

// onAck applies an acknowledgement from another node: "node NUL stream
// NUL last".
func (d *Directory) onAck(msg *nats.Msg) {
	node, rest, ok := strings.Cut(string(msg.Data), "\x00")
	if !ok {
		return
	}
	stream, last, ok := strings.Cut(rest, "\x00")
	if !ok {
		return
	}
	n, err := strconv.ParseUint(last, 10, 64)
	if err != nil {
		return
	}
	d.outMu.Lock()
	o := d.outboxes[node]
	d.outMu.Unlock()
	if o != nil {
		o.acked(stream, n)
	}
}

// resend publishes again, every resendAfter, the batches of every outbox
// still waiting for their acknowledgement.
func (d *Directory) resendLoop(stop <-chan struct{}) {
	t := time.NewTicker(resendAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		d.outMu.Lock()
		obs := make([]*outbox, 0, len(d.outboxes))
		for _, o := range d.outboxes {
			obs = append(obs, o)
		}
		d.outMu.Unlock()
		for _, o := range obs {
			o.resend()
		}
	}
}

// peerUp tells node's outbox which run of it is up; if another run had
// unacknowledged batches, they are rerouted.
func (d *Directory) peerUp(node, run string) {
	d.reroute(node, d.outbox(node).restart(run))
}

// peerDown reroutes what node never acknowledged: it left or died.
func (d *Directory) peerDown(node string) {
	d.reroute(node, d.outbox(node).restart(""))
}

// reroute hands the stanzas of unacknowledged batches back to the core as
// for sessions that are gone.
func (d *Directory) reroute(node string, batches [][]byte) {
	n := 0
	for _, b := range batches {
		_, recs, _ := unframe(b)
		_ = records(recs, func(m record) {
			if m.op != opDeliver {
				return // presence fan-out and closes die with the node
			}
			full, err := jid.Parse(m.to)
			if err != nil {
				return
			}
			n++
			d.missed(full, m)
		})
	}
	if n > 0 {
		d.log.Info("directory: rerouted stanzas a departed node never acknowledged", "node", node, "stanzas", n)
	}
}
