package directory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/stanza"
)

// Node messages travel in batches: one NATS message on parley.node.<name>
// carries one or more records, each a 4-byte big-endian length and the
// record's fields joined by NUL (which neither XML nor JIDs can contain):
//
//	op NUL to NUL meta NUL text NUL xml
//
// An idle cluster sends one record per NATS message, as soon as it is
// routed; a busy one sends many, so that what NATS costs per message
// (parsing it twice, the in-process pipe, the route's system calls, waking
// the subscriber) is shared by all the stanzas queued meanwhile. This is
// what brings a cross-node message close to a local one in CPU.

// maxBatch bounds one NATS message (NATS refuses payloads over its
// max_payload, 1 MiB by default); a batch is cut at record boundaries.
const maxBatch = 256 << 10

// outbox queues records for one node. A record is appended under mu; if no
// flusher is publishing for the node, one is started, and it publishes
// everything queued (also what is added while it publishes) until the
// outbox is empty. Order is kept: one flusher at a time, in append order.
type outbox struct {
	d       *Directory
	node    string
	subject string

	mu       sync.Mutex
	buf      []byte // records not yet published
	spare    []byte // the buffer of the last publish, for reuse
	flushing bool

	// Acknowledgements (acks.go), also guarded by mu.
	stream   string      // this outbox's stream: <our run>.<epoch>
	epoch    uint64      // counts restarts of the numbering
	peerRun  string      // the receiving node's run, when known
	seq      uint64      // the last batch numbered
	unacked  []sentBatch // published, not acknowledged, oldest first
	unackedN int         // their bytes
}

func newOutbox(d *Directory, node string) *outbox {
	return &outbox{d: d, node: node, subject: nodePrefix + node, stream: d.run + ".0"}
}

// add queues one record: the fields, then the XML of el (if not nil).
func (o *outbox) add(op, to, meta, text string, xml []byte, el *stanza.Element) {
	o.d.stats.sent.Add(1)
	o.mu.Lock()
	o.buf = appendRecord(o.buf, op, to, meta, text, xml, el)
	if !o.flushing {
		o.flushing = true
		go o.flush()
	}
	o.mu.Unlock()
}

// appendRecord appends one record, its length first.
func appendRecord(b []byte, op, to, meta, text string, xml []byte, el *stanza.Element) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = append(b, op...)
	b = append(b, 0)
	b = append(b, to...)
	b = append(b, 0)
	b = append(b, meta...)
	b = append(b, 0)
	b = append(b, text...)
	b = append(b, 0)
	b = append(b, xml...)
	if el != nil {
		b = el.AppendXML(b, stanza.NSClient)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// flush publishes until nothing is queued.
func (o *outbox) flush() {
	// Let the goroutines that are routing right now queue their stanzas
	// first, for as long as they do (a few rounds at most): when the node
	// is busy this makes batches several times larger; when it is idle
	// nobody else is runnable and the first round ends it.
	for range 4 {
		o.mu.Lock()
		n := len(o.buf)
		o.mu.Unlock()
		runtime.Gosched()
		o.mu.Lock()
		grew := len(o.buf) > n
		o.mu.Unlock()
		if !grew {
			break
		}
	}
	o.mu.Lock()
	for len(o.buf) > 0 {
		b := o.buf
		o.buf = o.spare[:0]
		o.mu.Unlock()
		o.publish(b)
		o.mu.Lock()
		if cap(b) <= 4*maxBatch {
			o.spare = b
		}
	}
	o.flushing = false
	o.mu.Unlock()
}

// publish sends b in NATS messages of at most maxBatch bytes (or one
// record, if a record is larger), each numbered and kept until the node
// acknowledges it (acks.go).
func (o *outbox) publish(b []byte) {
	for len(b) > 0 {
		n := cutBatch(b)
		o.mu.Lock()
		o.seq++
		frame := frameBatch(o.d.name, o.stream, o.peerRun, o.seq, b[:n])
		o.unacked = append(o.unacked, sentBatch{seq: o.seq, data: frame, at: time.Now()})
		o.unackedN += len(frame)
		for o.unackedN > maxUnacked && len(o.unacked) > 1 {
			o.d.log.Error("directory: a node acknowledges nothing; dropping the oldest batch kept for it", "node", o.node)
			o.unackedN -= len(o.unacked[0].data)
			o.unacked[0] = sentBatch{}
			o.unacked = o.unacked[1:]
		}
		o.mu.Unlock()
		o.d.stats.sentBatches.Add(1)
		if err := o.d.nc.Publish(o.subject, frame); err != nil {
			o.d.log.Error("directory: publish failed", "subject", o.subject, "err", err)
		}
		b = b[n:]
	}
}

// unackedBatches counts the batches every outbox waits on.
func (d *Directory) unackedBatches() uint64 {
	d.outMu.Lock()
	obs := make([]*outbox, 0, len(d.outboxes))
	for _, o := range d.outboxes {
		obs = append(obs, o)
	}
	d.outMu.Unlock()
	var n uint64
	for _, o := range obs {
		o.mu.Lock()
		n += uint64(len(o.unacked))
		o.mu.Unlock()
	}
	return n
}

// acked drops the batches of stream up to last.
func (o *outbox) acked(stream string, last uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if stream != o.stream {
		return
	}
	i := 0
	for i < len(o.unacked) && o.unacked[i].seq <= last {
		o.unackedN -= len(o.unacked[i].data)
		o.unacked[i] = sentBatch{}
		i++
	}
	o.unacked = o.unacked[i:]
	if len(o.unacked) == 0 {
		o.unacked = nil
	}
}

// resend publishes again, in order, what waited for its acknowledgement
// longer than resendAfter.
func (o *outbox) resend() {
	now := time.Now()
	o.mu.Lock()
	if len(o.unacked) == 0 || now.Sub(o.unacked[0].at) < resendAfter {
		o.mu.Unlock()
		return
	}
	again := make([][]byte, len(o.unacked))
	for i := range o.unacked {
		again[i] = o.unacked[i].data
		o.unacked[i].at = now
	}
	o.mu.Unlock()
	o.d.stats.resent.Add(uint64(len(again)))
	for _, b := range again {
		if err := o.d.nc.Publish(o.subject, b); err != nil {
			o.d.log.Debug("directory: publish failed", "subject", o.subject, "err", err)
			return
		}
	}
}

// restart starts a new stream to the node's run (or, with "", to no run:
// the node is gone) unless that run is the one already addressed, and
// returns the batches the previous one never acknowledged.
func (o *outbox) restart(run string) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if run != "" && run == o.peerRun {
		return nil
	}
	if run != "" && o.peerRun == "" && o.epoch == 0 {
		// The node's run learnt for the first time: what was sent before
		// was addressed to whichever run it has, so keep the stream.
		o.peerRun = run
		return nil
	}
	old := make([][]byte, len(o.unacked))
	for i := range o.unacked {
		old[i] = o.unacked[i].data
	}
	o.epoch++
	o.stream = o.d.run + "." + strconv.FormatUint(o.epoch, 10)
	o.peerRun, o.seq, o.unacked, o.unackedN = run, 0, nil, 0
	return old
}

// cutBatch returns how many bytes of b, whole records, make the next NATS
// message: as many as fit in maxBatch, and at least one record.
func cutBatch(b []byte) int {
	n := 0
	for n+4 <= len(b) {
		size := 4 + int(binary.BigEndian.Uint32(b[n:]))
		if n > 0 && n+size > maxBatch {
			break
		}
		n += size
	}
	return min(n, len(b))
}

// record is one decoded node message. xml aliases the NATS message.
type record struct {
	op, to, meta, text string
	xml                []byte
}

var errMalformed = errors.New("directory: malformed node message")

// records calls fn for each record of a batch, in order; it stops at the
// first malformed one.
func records(b []byte, fn func(record)) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return errMalformed
		}
		size := int(binary.BigEndian.Uint32(b))
		if size > len(b)-4 {
			return errMalformed
		}
		rec, err := decodeRecord(b[4 : 4+size])
		if err != nil {
			return err
		}
		fn(rec)
		b = b[4+size:]
	}
	return nil
}

func decodeRecord(b []byte) (record, error) {
	var f [4][]byte
	for i := range f {
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return record{}, errMalformed
		}
		f[i], b = b[:j], b[j+1:]
	}
	r := record{to: string(f[1]), xml: b}
	switch string(f[0]) { // the known ops without an allocation each
	case opDeliver:
		r.op = opDeliver
	case opFanout:
		r.op = opFanout
	case opClose:
		r.op = opClose
	default:
		r.op = string(f[0])
	}
	if len(f[2]) > 0 {
		r.meta = string(f[2])
	}
	if len(f[3]) > 0 {
		r.text = string(f[3])
	}
	return r, nil
}

// Stats counts node messages (stanzas and closes forwarded between nodes)
// and the NATS messages (batches) that carried them, both ways.
type Stats struct {
	Sent, SentBatches, Received, ReceivedBatches uint64
	Resent                                       uint64 // batches published again, unacknowledged
	Unacked                                      uint64 // batches waiting for their acknowledgement now
}

type stats struct {
	sent, sentBatches, received, receivedBatches atomic.Uint64
	resent                                       atomic.Uint64 // batches published again
}

// Stats returns the node-message counters so far.
func (d *Directory) Stats() Stats {
	return Stats{
		Sent: d.stats.sent.Load(), SentBatches: d.stats.sentBatches.Load(),
		Received: d.stats.received.Load(), ReceivedBatches: d.stats.receivedBatches.Load(),
		Resent: d.stats.resent.Load(), Unacked: d.unackedBatches(),
	}
}
