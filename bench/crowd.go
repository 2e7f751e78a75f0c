package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// nsPing is XEP-0199, which the readers answer.
const nsPing = "urn:xmpp:ping"

// crowd is the clients taking part in traffic: sender s (user s, for s in
// [0, Senders)) sends to its partner, user s+Senders, addressed by full
// JID. Each of them runs one reader goroutine; the other logged-in users
// stay idle and cost no goroutine. Set up by the first traffic phase; the
// readers end when the run closes the connections.
type crowd struct {
	r       *runner
	clients []*xmppclient.Client // the runner's, read-only
	senders int
	jids    []string // full JIDs of users [0, 2·senders); "" when not logged in
	thr     *load    // the throughput phase's messages
	lat     *load    // the latency phase's messages
	// current is the phase running, which is charged with stanzas that
	// name no phase.
	current atomic.Pointer[load]
	acks    atomic.Int64 // initial presences echoed back (RFC 6121 §4.2.2)
	readers []reader     // owned by the runner's goroutine
}

// reader is one participant's reader goroutine, as seen from the runner.
type reader struct {
	user  int
	ended <-chan error
	done  bool // ended has been received from
}

// setupCrowd starts the readers of the traffic participants and sends
// their initial presence, once per run.
func (r *runner) setupCrowd(ctx context.Context) (*crowd, error) {
	if r.crowd != nil {
		return r.crowd, nil
	}
	s := r.cfg.Senders
	c := &crowd{r: r, clients: r.clients, senders: s, jids: make([]string, 2*s)}
	for u := range c.jids {
		if cl := r.clients[u]; cl != nil {
			c.jids[u] = cl.JID().String()
		}
	}
	perFlow := 0
	if r.cfg.has(PhaseLatency) {
		perFlow = int(r.cfg.Rate*r.cfg.Duration.Seconds())/s + 16
	}
	c.thr = c.newLoad(tagThroughput, false, 0)
	c.lat = c.newLoad(tagLatency, true, perFlow)
	pairs := 0
	for _, f := range c.thr.flows {
		if f != nil {
			pairs++
		}
	}
	if pairs == 0 {
		return nil, fmt.Errorf("no sender and partner both logged in")
	}
	r.crowd = c
	presence := stanza.New("presence", stanza.NSClient).Append(stanza.New("priority", stanza.NSClient).SetText("0"))
	want := int64(0)
	var failed tally
	for u, j := range c.jids {
		if j == "" {
			continue
		}
		ch := r.clients[u].StartReader(context.Background(), func(el *stanza.Element) { c.handle(u, el) })
		c.readers = append(c.readers, reader{user: u, ended: ch})
		if err := r.clients[u].Send(presence); err != nil {
			failed.add(fmt.Errorf("%s: %w", j, err))
			continue
		}
		want++
	}
	if n := failed.count(); n > 0 {
		r.warn("%d participants could not send their initial presence (first: %s)", n, failed.first())
	}
	// Wait for the echoes, so no message races the presence; a server
	// that does not echo costs only this wait.
	deadline := time.Now().Add(r.cfg.Timeout)
	for c.acks.Load() < want && time.Now().Before(deadline) {
		if !sleep(ctx, 10*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
	if n := c.acks.Load(); n < want {
		r.warn("%d of %d participants got no echo of their initial presence", want-n, want)
	}
	c.checkReaders()
	return c, nil
}

// checkReaders notes readers that ended: their streams are over, so the
// traffic of their pairs stops. It warns once per ended reader and
// returns how many have ended so far.
func (c *crowd) checkReaders() int {
	var why tally
	n := 0
	for i := range c.readers {
		rd := &c.readers[i]
		if !rd.done {
			select {
			case err := <-rd.ended:
				rd.done = true
				why.add(fmt.Errorf("%s: %w", c.r.cfg.user(rd.user), err))
			default:
			}
		}
		if rd.done {
			n++
		}
	}
	if k := why.count(); k > 0 {
		c.r.warn("the streams of %d traffic participants ended (first: %s)", k, why.first())
	}
	return n
}

// handle is the reader of user u.
func (c *crowd) handle(u int, el *stanza.Element) {
	switch el.Name {
	case "message":
		c.onMessage(u, el)
	case "presence":
		if el.From() == c.jids[u] && el.Type() == "" {
			c.acks.Add(1)
		}
	case "iq":
		c.onIQ(u, el)
	}
}

func (c *crowd) onMessage(u int, el *stanza.Element) {
	now := int64(time.Since(c.r.epoch))
	ld, s, seq, at, ok := c.parse(el)
	if el.Type() == "error" {
		if ld == nil {
			ld = c.current.Load()
		}
		if ld != nil {
			ld.errorReplies.Add(1)
		}
		return
	}
	if !ok {
		if cur := c.current.Load(); cur != nil {
			cur.unexpected.Add(1)
		}
		return
	}
	f := ld.flows[s]
	if u != s+c.senders {
		ld.misrouted.Add(1)
		return
	}
	fresh, known := f.receive(seq, now-at, ld.timed)
	switch {
	case !known:
		ld.unexpected.Add(1)
	case !fresh:
		ld.noteDuplicate(f, seq)
	default:
		ld.delivered.Add(1)
		if ld.chain.Load() {
			c.send(ld, f)
		}
	}
}

// onIQ answers pings, so that a server checking for dead connections
// keeps the participants, and refuses other requests as RFC 6120 §8.2.3
// asks.
func (c *crowd) onIQ(u int, el *stanza.Element) {
	var reply *stanza.Element
	switch {
	case el.Type() == "get" && el.Child("ping", nsPing) != nil:
		reply = stanza.Result(el)
	case el.Type() == "get" || el.Type() == "set":
		reply = stanza.ErrorReply(el, &stanza.Error{Condition: stanza.ServiceUnavailable})
	default:
		return
	}
	_ = c.clients[u].Send(reply)
}

// wait collects the readers' ends once the connections are closed;
// bounded, since Close closes the socket under a stuck reader.
func (c *crowd) wait() {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for i := range c.readers {
		if c.readers[i].done {
			continue
		}
		select {
		case <-c.readers[i].ended:
		case <-t.C:
			return
		}
	}
}
