package directory

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/parley-im/parley/jid"
)

// Taking a session over from a node that is gone. The durable record of a
// stream management session names the run (cluster member id) holding it,
// so the node where its client comes back asks that run directly, on
// resumeRunPrefix+run: a live holder always answers (the session's state,
// a refusal, or "not here"); a run that is dead, or cut off from this
// node, has no subscription there and NATS answers "no responders" at
// once. Then the session is taken over at once, without waiting for the
// cluster to declare its node dead: the claim in storage is the fence
// (c2s/durable.go), not membership.
//
// Once the taken-over session is bound again, its new node publishes
// "moved" on its own subject, behind the bind: every node that processes
// it has the new binding, so nothing it routes from then on goes to the
// old one, and it answers with the stanzas for that full JID it still
// keeps for another node (queued, or sent and never acknowledged by the
// dead one), taking them out of those outboxes. The new node hands them to
// the session before what it replays from the archive and what arrives
// meanwhile, which the session holds, orders and deduplicates until all of
// it is in (c2s output.hold).

const resumeRunPrefix = "parley.resume."

// movedWait bounds the wait for the other nodes' answers to "moved": a
// node that does not answer in time (cut off, overloaded) keeps what it
// holds, which reaches the session later by the usual rerouting.
const movedWait = time.Second

// ErrUnreachable: no process of that run subscribes (dead, or cut off).
var ErrUnreachable = errors.New("directory: the holder is unreachable")

// ErrNoAnswer: the holder subscribes but did not answer in time.
var ErrNoAnswer = errors.New("directory: the holder did not answer")

// onResumeRun answers a resumption asked of this run directly.
func (d *Directory) onResumeRun(handOver func(id, user string, h uint32) ([]byte, error), notHere func(error) bool) nats.MsgHandler {
	return func(msg *nats.Msg) {
		var req resumeReq
		if json.Unmarshal(msg.Data, &req) != nil {
			return
		}
		state, err := handOver(req.ID, req.User, req.H)
		resp := resumeResp{State: state}
		switch {
		case err != nil && notHere(err):
			resp.NotHere = true
		case err != nil:
			resp.Error = err.Error()
		}
		b, _ := json.Marshal(resp)
		if err := msg.Respond(b); err != nil {
			d.log.Warn("directory: answering a resumption failed", "err", err)
		}
	}
}

// ResumeFrom asks the run holding a session for it. It returns the state
// (JSON), a RefusedError, ErrNoSession (the holder runs and does not have
// it), ErrUnreachable or ErrNoAnswer.
func (d *Directory) ResumeFrom(run, id, user string, h uint32) ([]byte, error) {
	b, _ := json.Marshal(resumeReq{Node: d.name, ID: id, User: user, H: h})
	msg, err := d.nc.Request(resumeRunPrefix+run, b, resumeWait)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, ErrUnreachable
	case errors.Is(err, nats.ErrTimeout):
		return nil, ErrNoAnswer
	case err != nil:
		return nil, err
	}
	var resp resumeResp
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, err
	}
	switch {
	case resp.Error != "":
		return nil, RefusedError(resp.Error)
	case resp.NotHere:
		return nil, ErrNoSession
	}
	return resp.State, nil
}

// TakenOver tells every node that the session of full, bound here after
// it was taken over from a process of node lost, moved here, and returns
// the stanzas they kept for it (serialized for the client, in the order
// each node routed them). It waits at most movedWait for the answers of
// the members but lost.
func (d *Directory) TakenOver(full jid.JID, lost string) [][]byte {
	inbox := d.nc.NewRespInbox()
	replies := make(chan *nats.Msg, 16)
	sub, err := d.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		d.log.Warn("directory: could not announce a taken-over session", "jid", full, "err", err)
		return d.takeRecords(full, "")
	}
	defer func() { _ = sub.Unsubscribe() }()
	want := 0
	if d.members != nil {
		for _, m := range d.members() {
			if m.Name != d.name && m.Name != lost {
				want++
			}
		}
	}
	d.pubMu.Lock()
	d.publishLocked(dirMsg{Op: "moved", JID: full.String()}, inbox)
	d.pubMu.Unlock()
	// What this node itself kept for the session's old node.
	out := d.takeRecords(full, "")
	timer := time.NewTimer(movedWait)
	defer timer.Stop()
	for got := 0; got < want; got++ {
		select {
		case msg := <-replies:
			_ = records(msg.Data, func(m record) {
				if m.op == opDeliver && m.to == full.String() {
					out = append(out, append([]byte(nil), m.xml...))
				}
			})
		case <-timer.C:
			d.log.Info("directory: not every node answered for a taken-over session", "jid", full, "answers", got, "nodes", want)
			return out
		}
	}
	return out
}

// onMoved answers "moved" from node: full is bound there now.
func (d *Directory) onMoved(node string, full jid.JID, msg *nats.Msg) {
	if msg.Reply == "" {
		return
	}
	var b []byte
	for _, x := range d.takeRecords(full, node) {
		b = appendRecord(b, opDeliver, full.String(), "", "", x, nil)
	}
	if err := d.nc.Publish(msg.Reply, b); err != nil {
		d.log.Warn("directory: answering a moved session failed", "err", err)
	}
}

// takeRecords takes the stanzas for full out of every outbox but node's:
// those routed to a binding of full that is gone.
func (d *Directory) takeRecords(full jid.JID, node string) [][]byte {
	d.outMu.Lock()
	obs := make([]*outbox, 0, len(d.outboxes))
	for n, o := range d.outboxes {
		if n != node {
			obs = append(obs, o)
		}
	}
	d.outMu.Unlock()
	var out [][]byte
	for _, o := range obs {
		out = append(out, o.take(full.String())...)
	}
	return out
}

// take removes the stanzas for to from what the outbox has not published
// yet and from its unacknowledged batches, and returns them in order.
func (o *outbox) take(to string) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out [][]byte
	keep := func(b []byte) (kept []byte, changed bool) {
		_ = records(b, func(m record) {
			if m.op == opDeliver && m.to == to {
				out = append(out, append([]byte(nil), m.xml...))
				changed = true
				return
			}
			kept = appendRecord(kept, m.op, m.to, m.meta, m.text, m.xml, nil)
		})
		return kept, changed
	}
	for i := range o.unacked {
		h, recs, ok := unframe(o.unacked[i].data)
		if !ok {
			continue
		}
		if kept, changed := keep(recs); changed {
			data := frameBatch(string(h.xml), h.to, h.text, o.unacked[i].seq, kept)
			o.unackedN += len(data) - len(o.unacked[i].data)
			o.unacked[i].data = data
		}
	}
	if kept, changed := keep(o.buf); changed {
		o.buf = kept
	}
	return out
}
