package bench

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/stanza"
)

// Tags open every body the tool sends, naming the phase that sent it.
const (
	tagThroughput = 't'
	tagLatency    = 'l'
)

// maxExamples bounds the lost and duplicated messages a report names.
const maxExamples = 10

// load is the messages of one traffic phase. Written by the readers and
// the sending goroutine through atomics and each flow's mutex.
type load struct {
	tag   byte
	flows []*flow // by sender; nil when sender or partner is not logged in
	timed bool    // keep each message's latency
	// chain makes the closed loop: a delivery sends the sender's next
	// message from the partner's reader.
	chain     atomic.Bool
	delivered atomic.Int64

	misrouted, unexpected, errorReplies, sendErrors atomic.Int64

	mu          sync.Mutex // guards dupExamples
	dupExamples []string
}

// flow is one sender's messages to its partner in one phase.
type flow struct {
	sender int
	name   string       // sender→partner, for reports
	to     string       // the partner's full JID
	sent   atomic.Int64 // sequence numbers handed out: the next is its value
	failed atomic.Int64 // writes that failed

	mu   sync.Mutex // guards the rest: the partner's reader, then the report
	seen []uint64   // bitmap of the sequence numbers received
	got  int64
	dups int64
	lat  []int64 // ns from write to arrival, for a timed load
}

func (c *crowd) newLoad(tag byte, timed bool, latCap int) *load {
	ld := &load{tag: tag, timed: timed, flows: make([]*flow, c.senders)}
	for s := range ld.flows {
		if c.jids[s] == "" || c.jids[s+c.senders] == "" {
			continue
		}
		f := &flow{sender: s, to: c.jids[s+c.senders],
			name: c.r.cfg.user(s) + "→" + c.r.cfg.user(s+c.senders)}
		if timed {
			f.lat = make([]int64, 0, latCap)
		}
		ld.flows[s] = f
	}
	return ld
}

// active returns the flows whose sender and partner are logged in.
func (ld *load) active() []*flow {
	var out []*flow
	for _, f := range ld.flows {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

// send writes f's next message: a chat message to the partner's full JID
// whose body is "<tag> <sender> <seq> <ns since epoch>".
func (c *crowd) send(ld *load, f *flow) {
	seq := f.sent.Add(1) - 1
	b := make([]byte, 0, 48)
	b = append(b, ld.tag, ' ')
	b = strconv.AppendInt(b, int64(f.sender), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ' ')
	id := "b" + strconv.FormatInt(seq, 36)
	b = strconv.AppendInt(b, int64(time.Since(c.r.epoch)), 10)
	msg := stanza.New("message", stanza.NSClient, "to", f.to, "type", "chat", "id", id).
		Append(stanza.New("body", stanza.NSClient).SetText(string(b)))
	if err := c.clients[f.sender].Send(msg); err != nil {
		f.failed.Add(1)
		ld.sendErrors.Add(1)
	}
}

// parse reads a body written by send. ok is false for anything else.
func (c *crowd) parse(el *stanza.Element) (ld *load, sender int, seq, at int64, ok bool) {
	b := el.Child("body", "")
	if b == nil {
		return nil, 0, 0, 0, false
	}
	text := b.Text()
	if len(text) < 2 || text[1] != ' ' {
		return nil, 0, 0, 0, false
	}
	switch text[0] {
	case tagThroughput:
		ld = c.thr
	case tagLatency:
		ld = c.lat
	default:
		return nil, 0, 0, 0, false
	}
	f1, rest, _ := strings.Cut(text[2:], " ")
	f2, f3, _ := strings.Cut(rest, " ")
	s, err1 := strconv.Atoi(f1)
	seq, err2 := strconv.ParseInt(f2, 10, 64)
	at, err3 := strconv.ParseInt(f3, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || s < 0 || s >= len(ld.flows) || ld.flows[s] == nil {
		return ld, 0, 0, 0, false
	}
	return ld, s, seq, at, true
}

// receive records message seq. known is false for a sequence number
// never sent; fresh is false for a duplicate.
func (f *flow) receive(seq, lat int64, timed bool) (fresh, known bool) {
	if seq < 0 || seq >= f.sent.Load() {
		return false, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := int(seq >> 6)
	if w >= len(f.seen) {
		f.seen = append(f.seen, make([]uint64, w+1-len(f.seen))...)
	}
	bit := uint64(1) << (seq & 63)
	if f.seen[w]&bit != 0 {
		f.dups++
		return false, true
	}
	f.seen[w] |= bit
	f.got++
	if timed {
		f.lat = append(f.lat, lat)
	}
	return true, true
}

// noteDuplicate keeps a few duplicates to name in the report.
func (ld *load) noteDuplicate(f *flow, seq int64) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	if len(ld.dupExamples) < maxExamples {
		ld.dupExamples = append(ld.dupExamples, f.name+"#"+strconv.FormatInt(seq, 10))
	}
}

// pending is how many messages of ld are neither delivered nor failed.
func (ld *load) pending() int64 {
	var n int64
	for _, f := range ld.flows {
		if f == nil {
			continue
		}
		f.mu.Lock()
		n += f.sent.Load() - f.failed.Load() - f.got
		f.mu.Unlock()
	}
	return n
}

// drain waits, at most Drain, for the messages of ld still in flight.
func (c *crowd) drain(ctx context.Context, ld *load) {
	deadline := time.Now().Add(c.r.cfg.Drain)
	for ld.pending() > 0 && time.Now().Before(deadline) {
		if !sleep(ctx, 10*time.Millisecond) {
			return
		}
	}
}

// delivery accounts for every message of ld.
func (c *crowd) delivery(ld *load) Delivery {
	d := Delivery{
		StreamsEnded: c.checkReaders(),
		Senders:      c.senders,
		PresenceAcks: int(c.acks.Load()),
		Delivered:    ld.delivered.Load(),
		Misrouted:    ld.misrouted.Load(),
		Unexpected:   ld.unexpected.Load(),
		ErrorReplies: ld.errorReplies.Load(),
		SendErrors:   ld.sendErrors.Load(),
	}
	for _, f := range ld.active() {
		d.Pairs++
		f.mu.Lock()
		sent := f.sent.Load()
		d.Sent += sent
		d.Duplicates += f.dups
		lost := sent - f.failed.Load() - f.got
		d.Lost += max(lost, 0)
		for seq := int64(0); lost > 0 && seq < sent && len(d.LostExamples) < maxExamples; seq++ {
			if w := int(seq >> 6); w >= len(f.seen) || f.seen[w]&(1<<(seq&63)) == 0 {
				d.LostExamples = append(d.LostExamples, f.name+"#"+strconv.FormatInt(seq, 10))
			}
		}
		f.mu.Unlock()
	}
	ld.mu.Lock()
	d.DuplicateExamples = append([]string(nil), ld.dupExamples...)
	ld.mu.Unlock()
	return d
}

// latencies gathers the latencies of a timed load.
func (ld *load) latencies() []int64 {
	var out []int64
	for _, f := range ld.active() {
		f.mu.Lock()
		out = append(out, f.lat...)
		f.mu.Unlock()
	}
	return out
}
