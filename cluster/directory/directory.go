// Package directory makes the sessions of every node of a cluster visible
// to every other node, and carries stanzas to them. Each node publishes the
// changes to its own sessions (bind, presence, unbind); every node keeps
// the other nodes' sessions in its router as remote entries whose Conn
// forwards stanzas over NATS to the node that holds the connection. The
// routing decisions (RFC 6121 §8.5) stay in package im and see local and
// remote resources alike.
//
// When a node leaves or is declared dead, its entries are dropped and
// local contacts are told. When a node joins, or comes back after it was
// declared dead (a healed partition), the two ask each other for a
// snapshot of their sessions, so that both directories converge without
// an operator: see sync.go. Two bindings of one full JID made without
// knowledge of each other (on two sides of a partition) are settled the
// same way on every node, so exactly one survives: see conflict.go.
//
// It does not decide membership (package cluster does) and stores nothing.
package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/parley-im/parley/cluster"
	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// Subjects. Every node subscribes to dirPrefix+"*" (the others' changes),
// syncSubject (requests for a snapshot) and its own nodePrefix+name.
const (
	dirPrefix   = "parley.dir."
	syncSubject = "parley.dirsync"
	// offlineSubject carries "node NUL bare JID" after a node stored a
	// message offline: a node where that user has an available session
	// delivers it (im.Cluster.OfflineStored).
	offlineSubject = "parley.offline"
	// blocksSubject carries "node NUL owner" after a block list or the
	// archiving preferences changed: the other nodes drop their cached
	// copies (im.Cluster.CachedChanged).
	blocksSubject = "parley.blocks"
	nodePrefix    = "parley.node."
)

// dirMsg is a change to one session, published by the node that holds it
// on dirPrefix+its name, or a mark framing a snapshot (sync.go).
type dirMsg struct {
	Op  string `json:"op"`  // bind (also snapshot entries), update, unbind, moved (takeover.go); snap, snapped, tick
	Run string `json:"run"` // the publishing node's run id
	// Seq numbers every message of the run on its subject from 1, so that
	// a receiver notices one it missed (zero from nodes before it).
	Seq       uint64 `json:"q,omitempty"`
	JID       string `json:"jid"`
	Available bool   `json:"a,omitempty"`
	Priority  int    `json:"p,omitempty"`
	Presence  string `json:"x,omitempty"` // the last broadcast presence
	// Interests are what the session fetched and gets pushes of (the
	// router.Interests bits: roster, block list).
	Interests router.Interests `json:"in,omitempty"`
	Carbons   bool             `json:"c,omitempty"` // enabled Message Carbons (XEP-0280)
	// Bound is when the session was bound (Unix ns, the node's clock), on
	// bind and unbind.
	Bound int64 `json:"t,omitempty"`
	// Replaces and ReplacesAt name, on bind, the binding of the same full
	// JID on another node that this one knowingly replaced: its node and
	// Bound. Without them two bindings are concurrent (conflict.go).
	Replaces   string `json:"rn,omitempty"`
	ReplacesAt int64  `json:"rt,omitempty"`
	For        string `json:"for,omitempty"`  // snap: the node that asked
	From       uint64 `json:"from,omitempty"` // snapped: the Seq of its snap
}

// Node messages (see outbox.go for their wire form) are addressed to one
// node: deliver a stanza to a local session, to every available resource of
// a bare JID (fanout), or close a session. Their fields:
//
//   - to: the full JID (deliver, close) or bare JID (fanout);
//   - meta: for close, the stream error condition; for deliver, the
//     target's priority when it was routed, followed by "+" when the
//     stanza already missed its target once (see Directory.missed);
//   - text: for close, the stream error text;
//   - xml: the stanza, serialized for a client; for close, the Bound of
//     the session to close, so that a newer binding of the same full JID
//     is not closed.
const (
	opDeliver = "deliver"
	opFanout  = "fanout"
	opClose   = "close"
)

// Directory is one node's part of the cluster-wide session directory.
//
// Lock order: pubMu, then the router's lock (pubMu is held while checking
// that a session is still bound); peersMu, mu, outMu and an outbox's mu
// are never held while taking another lock.
type Directory struct {
	name   string
	run    string
	nc     *nats.Conn
	router *router.Router
	core   *im.Server
	log    *slog.Logger
	// members lists the live nodes (cluster.Node.Members).
	members func() []cluster.Member
	// started is set by Start and cleared by Stop: what the router and
	// the core tell the directory outside that is dropped.
	started atomic.Bool

	// pubMu orders this node's messages on its subject: a session's state
	// is read, and its message numbered and published, under it, so a
	// snapshot and the changes around it reach every node in one order.
	pubMu   sync.Mutex
	seq     uint64    // the last Seq published; guarded by pubMu
	lastPub time.Time // when; guarded by pubMu

	peersMu sync.Mutex       // guards peers, closed
	peers   map[string]*peer // what is known of each other node's messages (sync.go)
	closed  bool             // Stop was called: no more asks

	// ctx ends with Stop; bg counts the background goroutines: the idle
	// tick, and the announcing of sessions and handing over of offline
	// messages after a snapshot or a join (sync.go).
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu        sync.Mutex // guards subs, stopWatch, stopped, and bg's Add
	subs      []*nats.Subscription
	stopWatch func()
	stopped   bool

	outMu    sync.Mutex         // guards outboxes
	outboxes map[string]*outbox // per node, created on first use
	stats    stats

	inMu    sync.Mutex          // guards inbound
	inbound map[string]*inbound // per sending node (acks.go)
}

// New returns a directory that is not started: the router and the core
// take it as their router.Observer and im.Cluster when they are built, and
// Start then joins it to the cluster. What they tell it before Start (no
// client is served yet) is dropped.
func New(log *slog.Logger) *Directory {
	d := &Directory{log: log, peers: make(map[string]*peer), inbound: make(map[string]*inbound)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// Start joins the directory: it subscribes, starts publishing this node's
// sessions (r must be the router built with d as its observer) and asks
// every member for theirs (and every node that joins later). Call it
// before the node accepts clients.
func (d *Directory) Start(node *cluster.Node, r *router.Router, core *im.Server) error {
	d.name, d.run, d.router, d.core, d.members = node.Name(), node.ID(), r, core, node.Members
	d.started.Store(true)
	d.nc = node.Conn()
	for subj, h := range map[string]nats.MsgHandler{
		dirPrefix + "*":          d.onDir,
		syncSubject:              d.onSync,
		nodePrefix + node.Name(): d.onNode,
		ackPrefix + node.Name():  d.onAck,
		offlineSubject:           d.onOffline,
		blocksSubject:            d.onBlocks,
	} {
		if err := d.subscribe(subj, h); err != nil {
			d.Stop()
			return err
		}
	}
	if err := d.nc.Flush(); err != nil {
		d.Stop()
		return err
	}
	// The watcher is first told every current member (Joined), and asks
	// each for its sessions.
	d.stopWatch = node.Watch(d.membership)
	every := tickBeats * node.Heartbeat()
	d.background(func(ctx context.Context) { d.tick(ctx, every) })
	d.background(func(ctx context.Context) { d.resendLoop(ctx.Done()) })
	return nil
}

// subscribe subscribes h to subject until Stop.
func (d *Directory) subscribe(subject string, h nats.MsgHandler) error {
	sub, err := d.nc.Subscribe(subject, h)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.subs = append(d.subs, sub)
	d.mu.Unlock()
	return nil
}

// Stop unsubscribes and waits for the background goroutines. Remote
// entries stay until the process ends.
func (d *Directory) Stop() {
	d.mu.Lock()
	for _, s := range d.subs {
		_ = s.Unsubscribe()
	}
	d.subs = nil
	if d.stopWatch != nil {
		d.stopWatch()
		d.stopWatch = nil
	}
	d.started.Store(false)
	d.stopped = true
	d.mu.Unlock()
	d.stopAsking()
	d.cancel()
	d.bg.Wait()
}

// SessionChanged publishes a change to one of this node's sessions
// (router.Observer). A bind or update is published only while the session
// is still bound: the router notifies after the fact and without order
// between goroutines, and a late bind published after the unbind would
// leave a stale entry on every other node.
func (d *Directory) SessionChanged(ch router.Change) {
	if !d.started.Load() {
		return
	}
	s := ch.Session
	m := dirMsg{JID: s.JID().String(), Bound: s.Bound().UnixNano()}
	switch ch.Kind {
	case router.Bound:
		m.Op = "bind"
		if r := ch.Replaced; r != nil && !r.IsLocal() && !r.Bound().IsZero() {
			m.Replaces, m.ReplacesAt = r.Node(), r.Bound().UnixNano()
		}
	case router.Unbound:
		m.Op = "unbind"
	default:
		m.Op = "update"
	}
	d.pubMu.Lock()
	defer d.pubMu.Unlock()
	if m.Op != "unbind" {
		if d.router.Session(s.JID()) != s {
			return
		}
		d.fillState(&m, s)
	}
	d.publishLocked(m)
}

func (d *Directory) fillState(m *dirMsg, s *router.Session) {
	avail, prio, pres, _ := s.State()
	m.Available, m.Priority = avail, prio
	m.Interests, m.Carbons = s.Interests(), s.Carbons()
	if pres != nil {
		m.Presence = pres.String()
	}
}

// publishLocked numbers m and publishes it on this node's subject; the
// caller holds pubMu.
func (d *Directory) publishLocked(m dirMsg, reply ...string) {
	d.seq++
	d.lastPub = time.Now()
	m.Seq = d.seq
	m.Run = d.run
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // presence XML: keep <, > and & as they are
	err := enc.Encode(m)
	if err == nil && len(reply) > 0 {
		err = d.nc.PublishRequest(dirPrefix+d.name, reply[0], buf.Bytes())
	} else if err == nil {
		err = d.nc.Publish(dirPrefix+d.name, buf.Bytes())
	}
	if err != nil {
		d.log.Error("directory: publish failed", "op", m.Op, "err", err)
	}
}

// outbox returns the outbox for a node, creating it on first use.
func (d *Directory) outbox(node string) *outbox {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	o := d.outboxes[node]
	if o == nil {
		if d.outboxes == nil {
			d.outboxes = make(map[string]*outbox)
		}
		o = newOutbox(d, node)
		d.outboxes[node] = o
	}
	return o
}

// OfflineStored tells the other nodes that a message was stored offline
// for bare (im.Cluster).
func (d *Directory) OfflineStored(bare jid.JID) {
	if !d.started.Load() {
		return
	}
	if err := d.nc.Publish(offlineSubject, []byte(d.name+"\x00"+bare.String())); err != nil {
		d.log.Error("directory: publish failed", "subject", offlineSubject, "err", err)
	}
}

// CachedChanged tells the other nodes that owner's block list or
// archiving preferences changed (im.Cluster).
func (d *Directory) CachedChanged(owner string) {
	if !d.started.Load() {
		return
	}
	if err := d.nc.Publish(blocksSubject, []byte(d.name+"\x00"+owner)); err != nil {
		d.log.Error("directory: publish failed", "subject", blocksSubject, "err", err)
	}
}

// onBlocks drops the cached settings another node changed.
func (d *Directory) onBlocks(msg *nats.Msg) {
	node, owner, ok := strings.Cut(string(msg.Data), "\x00")
	if ok && node != d.name {
		d.core.ForgetCached(owner)
	}
}

// onOffline delivers a message another node just stored offline when the
// user has an available session here (see im.Cluster.OfflineStored).
func (d *Directory) onOffline(msg *nats.Msg) {
	node, user, ok := strings.Cut(string(msg.Data), "\x00")
	if !ok || node == d.name {
		return
	}
	bare, err := jid.Parse(user)
	if err != nil {
		return
	}
	d.core.DeliverPendingOffline(context.Background(), bare.Bare())
}

// onDir applies another node's message: a change to one of its sessions,
// or a snapshot mark.
func (d *Directory) onDir(msg *nats.Msg) {
	node := msg.Subject[len(dirPrefix):]
	if node == d.name {
		return
	}
	var m dirMsg
	if err := json.Unmarshal(msg.Data, &m); err != nil {
		d.log.Warn("directory: unreadable change", "node", node, "err", err)
		return
	}
	if d.sequence(node, m) {
		d.log.Info("directory: missed a change of another node; asking it for its sessions", "node", node, "seq", m.Seq)
		d.ask(node)
	}
	switch m.Op {
	case "snap":
		d.snapBegin(node, m)
		return
	case "snapped":
		d.snapEnd(node, m)
		return
	case "tick":
		return
	}
	full, err := jid.Parse(m.JID)
	if err != nil || full.IsBare() {
		return
	}
	if m.Op == "moved" {
		d.onMoved(node, full, msg)
		return
	}
	if m.Op == "unbind" {
		// Only the binding that ended, should a later binding of the full
		// JID on that node be known already.
		if e := d.router.Remote(full, node); e != nil && (m.Bound == 0 || e.Bound().IsZero() || e.Bound().UnixNano() == m.Bound) {
			d.router.RemoveRemote(full, node)
		}
		return
	}
	d.apply(node, full, m)
}

// apply records a bind or update of a session on node.
func (d *Directory) apply(node string, full jid.JID, m dirMsg) {
	var pres *stanza.Element
	if m.Presence != "" {
		var err error
		if pres, err = stanza.ParseBytes([]byte(m.Presence)); err != nil {
			d.log.Warn("directory: unreadable presence", "node", node, "jid", m.JID, "err", err)
		}
	}
	var bound time.Time
	if m.Bound != 0 {
		bound = time.Unix(0, m.Bound)
	}
	existing := d.router.Remote(full, node)
	if existing != nil && existing.Run() == m.Run && (m.Op != "bind" || existing.Bound().Equal(bound)) {
		existing.SetRemoteState(m.Available, m.Priority, pres, m.Interests)
		existing.SetRemoteCarbons(m.Carbons)
		if rc, ok := existing.Conn().(*remoteConn); ok && m.Op == "bind" {
			rc.seen.Store(m.Seq)
		}
		return
	}
	if m.Op != "bind" {
		// An update for a session we do not have: it was unbound (its last
		// presence change went out before that), or lost a conflict here,
		// or belongs to a run we no longer follow.
		return
	}
	rc := &remoteConn{d: d, node: node, to: full, toStr: full.String(), out: d.outbox(node)}
	s := router.NewRemote(full, node, m.Run, rc, m.Available, m.Priority, pres, m.Interests).WithBound(bound)
	s.SetRemoteCarbons(m.Carbons)
	rc.sess.Store(s)
	rc.seen.Store(m.Seq)
	displaced, put := d.router.PutRemoteUnless(s, func(old *router.Session) bool { return d.keeps(old, node, bound, m) })
	if !put {
		d.log.Info("directory: a binding on another node lost a resource conflict", "node", node, "jid", m.JID)
		return
	}
	if displaced != nil {
		// The same full JID was bound here too, and the other node's
		// binding wins (RFC 6120 §7.7.2.2, as on one node).
		displaced.Close(stanza.NewStreamError(stanza.StreamConflict, "replaced by a new connection with the same resource"))
	}
}

// onNode handles a batch of stanzas and closes for this node's sessions:
// in order and once (acks.go).
func (d *Directory) onNode(msg *nats.Msg) {
	h, recs, ok := unframe(msg.Data)
	if !ok {
		d.log.Warn("directory: node message without a header")
		return
	}
	d.receive(string(h.xml), h, recs)
}

// handle handles one node message.
func (d *Directory) handle(m record) {
	d.stats.received.Add(1)
	full, err := jid.Parse(m.to)
	if err != nil {
		return
	}
	if m.op == opFanout {
		if err := d.router.DeliverLocalAvailableRaw(full.Bare(), m.xml); err != nil {
			d.log.Warn("directory: unreadable forwarded stanza", "to", m.to, "err", err)
		}
		return
	}
	s := d.router.Session(full)
	if s == nil || !s.IsLocal() {
		if m.op == opDeliver {
			d.missed(full, m)
		}
		return
	}
	switch m.op {
	case opDeliver:
		// The bytes were serialized for a client by the sending node: the
		// connection writes them as they are.
		if err := s.DeliverRaw(m.xml); err != nil {
			d.log.Warn("directory: unreadable forwarded stanza", "to", m.to, "err", err)
		}
	case opClose:
		if b, err := strconv.ParseInt(string(m.xml), 10, 64); err == nil && b != s.Bound().UnixNano() {
			return // a later binding of the full JID, not the one to close
		}
		s.Close(&stanza.StreamError{Condition: stanza.StreamCondition(m.meta), Text: m.text})
	}
}

// missed handles a stanza forwarded here for a session that has already
// left this node (its stream closed, or it moved): the core routes it as
// for a resource that is gone. It may go on to one other node, once: a
// stanza that misses twice stays on this node or goes to offline storage.
func (d *Directory) missed(full jid.JID, m record) {
	el, err := stanza.ParseBytes(m.xml)
	if err != nil {
		d.log.Warn("directory: unreadable forwarded stanza", "to", m.to, "err", err)
		return
	}
	meta, again := strings.CutSuffix(m.meta, "+")
	prio, _ := strconv.Atoi(meta)
	g := im.Gone{JID: full, Priority: prio, Rerouted: again}
	if !again {
		g.Forward = func(ss *router.Session, st *stanza.Element) {
			_, p := ss.Available()
			d.outbox(ss.Node()).add(opDeliver, ss.JID().String(), strconv.Itoa(p)+"+", "", nil, st)
		}
	}
	d.log.Debug("directory: rerouting a stanza for a session no longer here", "to", m.to, "again", again)
	d.core.Undeliverable(context.Background(), g, el)
}

// membership asks a node that joined (or came back) for its sessions, and
// drops the sessions of a node that left or died and tells local contacts
// they are gone.
func (d *Directory) membership(ev cluster.Event) {
	if ev.Member.Name == d.name {
		return
	}
	if ev.Kind == cluster.Joined {
		d.peerUp(ev.Member.Name, ev.Member.ID)
		d.joined(ev)
		return
	}
	d.forget(ev.Member.Name)
	gone := d.router.RemoveNode(ev.Member.Name, ev.Member.ID)
	if len(gone) > 0 {
		d.log.Info("directory: dropped the sessions of a departed node", "node", ev.Member.Name, "sessions", len(gone), "event", ev.Kind.String())
	}
	for _, s := range gone {
		d.core.RemoteSessionGone(context.Background(), s)
	}
	// What it never acknowledged goes where it would go now that its
	// sessions are gone.
	d.peerDown(ev.Member.Name)
}

// remoteConn is the Conn of a session on another node.
type remoteConn struct {
	d     *Directory
	node  string
	to    jid.JID
	toStr string                         // to.String(), once
	out   *outbox                        // the node's
	sess  atomic.Pointer[router.Session] // the entry it belongs to
	// seen is the Seq of the last bind (live or in a snapshot) that
	// confirmed the entry; a snapshot drops the entries it did not
	// confirm (sync.go).
	seen atomic.Uint64
}

func (c *remoteConn) Deliver(el *stanza.Element) {
	meta := ""
	if s := c.sess.Load(); s != nil {
		_, p := s.Available()
		meta = strconv.Itoa(p)
	}
	c.out.add(opDeliver, c.toStr, meta, "", nil, el)
}

// DeliverAvailable sends one message for all of bare's available resources
// on the node (router.Fanout).
func (c *remoteConn) DeliverAvailable(bare jid.JID, el *stanza.Element) {
	c.out.add(opFanout, bare.String(), "", "", nil, el)
}

func (c *remoteConn) Close(err *stanza.StreamError) {
	cond, text := string(stanza.StreamUndefined), ""
	if err != nil {
		cond, text = string(err.Condition), err.Text
	}
	var bound []byte
	if s := c.sess.Load(); s != nil && !s.Bound().IsZero() {
		bound = strconv.AppendInt(nil, s.Bound().UnixNano(), 10)
	}
	c.out.add(opClose, c.toStr, cond, text, bound, nil)
}
