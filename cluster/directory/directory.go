// Package directory makes the sessions of every node of a cluster visible
// to every other node, and carries stanzas to them. Each node publishes the
// changes to its own sessions (bind, presence, unbind); every node keeps
// the other nodes' sessions in its router as remote entries whose Conn
// forwards stanzas over NATS to the node that holds the connection. The
// routing decisions (RFC 6121 §8.5) stay in package im and see local and
// remote resources alike.
//
// It does not decide membership (package cluster does) and stores nothing:
// when a node dies, its entries are dropped and local contacts are told.
package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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
	// delivers it (im.Server.OnOfflineStored).
	offlineSubject = "parley.offline"
	nodePrefix     = "parley.node."
)

// dirMsg is a change to one session, published by the node that holds it.
type dirMsg struct {
	Op         string `json:"op"`  // bind (also snapshot entries), update, unbind
	Run        string `json:"run"` // the publishing node's run id
	JID        string `json:"jid"`
	Available  bool   `json:"a,omitempty"`
	Priority   int    `json:"p,omitempty"`
	Presence   string `json:"x,omitempty"` // the last broadcast presence
	Interested bool   `json:"i,omitempty"` // requested the roster
}

// nodeMsg is addressed to one node: deliver a stanza to a local session,
// to every available resource of a bare JID (fanout), or close a session.
// It travels as its fields joined by NUL, which neither XML nor JIDs can
// contain: stanzas are the bulk of cluster traffic and are not worth
// escaping into JSON.
type nodeMsg struct {
	Op string // deliver, fanout, close
	To string
	// Meta is, for close, the stream error condition; for deliver, the
	// target's priority when it was routed, followed by "+" when the
	// stanza already missed its target once (see Directory.missed).
	Meta string
	Text string // close: the stream error text
	XML  string
}

func (m nodeMsg) encode() []byte {
	b := make([]byte, 0, len(m.Op)+len(m.To)+len(m.Meta)+len(m.Text)+len(m.XML)+4)
	for i, f := range []string{m.Op, m.To, m.Meta, m.Text, m.XML} {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, f...)
	}
	return b
}

func decodeNode(b []byte) (nodeMsg, error) {
	f := strings.SplitN(string(b), "\x00", 5)
	if len(f) != 5 {
		return nodeMsg{}, errors.New("directory: malformed node message")
	}
	return nodeMsg{Op: f[0], To: f[1], Meta: f[2], Text: f[3], XML: f[4]}, nil
}

// Directory is one node's part of the cluster-wide session directory.
type Directory struct {
	name   string
	run    string
	nc     *nats.Conn
	router *router.Router
	core   *im.Server
	log    *slog.Logger

	mu        sync.Mutex // guards subs, stopWatch
	subs      []*nats.Subscription
	stopWatch func()
}

// Start joins the directory: it subscribes, asks the other nodes for
// their sessions and starts publishing this node's. Call it before the
// node accepts clients.
func Start(node *cluster.Node, r *router.Router, core *im.Server, log *slog.Logger) (*Directory, error) {
	d := &Directory{name: node.Name(), run: node.ID(), nc: node.Conn(), router: r, core: core, log: log}
	for subj, h := range map[string]nats.MsgHandler{
		dirPrefix + "*":          d.onDir,
		syncSubject:              d.onSync,
		nodePrefix + node.Name(): d.onNode,
		offlineSubject:           d.onOffline,
	} {
		sub, err := d.nc.Subscribe(subj, h)
		if err != nil {
			d.Stop()
			return nil, err
		}
		d.subs = append(d.subs, sub)
	}
	r.Observe(d.localChange)
	core.OnOfflineStored(d.offlineStored)
	d.stopWatch = node.Watch(d.membership)
	if err := d.nc.Flush(); err != nil {
		d.Stop()
		return nil, err
	}
	if err := d.nc.Publish(syncSubject, []byte(d.name)); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// Stop unsubscribes. Remote entries stay until the process ends.
func (d *Directory) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.subs {
		_ = s.Unsubscribe()
	}
	d.subs = nil
	if d.stopWatch != nil {
		d.stopWatch()
		d.stopWatch = nil
	}
	d.router.Observe(nil)
}

// localChange publishes a change to one of this node's sessions.
func (d *Directory) localChange(ch router.Change) {
	m := dirMsg{JID: ch.Session.JID().String()}
	switch ch.Kind {
	case router.Bound:
		m.Op = "bind"
	case router.Unbound:
		m.Op = "unbind"
	default:
		m.Op = "update"
	}
	if m.Op != "unbind" {
		d.fillState(&m, ch.Session)
	}
	d.publish(dirPrefix+d.name, m)
}

func (d *Directory) fillState(m *dirMsg, s *router.Session) {
	avail, prio, pres, interested := s.State()
	m.Available, m.Priority, m.Interested = avail, prio, interested
	if pres != nil {
		m.Presence = pres.String()
	}
}

func (d *Directory) publish(subject string, m dirMsg) {
	m.Run = d.run
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // presence XML: keep <, > and & as they are
	err := enc.Encode(m)
	if err == nil {
		err = d.nc.Publish(subject, buf.Bytes())
	}
	if err != nil {
		d.log.Error("directory: publish failed", "subject", subject, "err", err)
	}
}

func (d *Directory) send(node string, m nodeMsg) {
	if err := d.nc.Publish(nodePrefix+node, m.encode()); err != nil {
		d.log.Error("directory: publish failed", "node", node, "err", err)
	}
}

// offlineStored tells the other nodes that a message was stored offline
// for bare.
func (d *Directory) offlineStored(bare jid.JID) {
	if err := d.nc.Publish(offlineSubject, []byte(d.name+"\x00"+bare.String())); err != nil {
		d.log.Error("directory: publish failed", "subject", offlineSubject, "err", err)
	}
}

// onOffline delivers a message another node just stored offline when the
// user has an available session here (see im.Server.OnOfflineStored).
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

// onSync answers a node asking for everybody's sessions.
func (d *Directory) onSync(msg *nats.Msg) {
	if string(msg.Data) == d.name {
		return
	}
	for _, s := range d.router.Local() {
		m := dirMsg{Op: "bind", JID: s.JID().String()}
		d.fillState(&m, s)
		d.publish(dirPrefix+d.name, m)
	}
}

// onDir applies another node's change to its session.
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
	full, err := jid.Parse(m.JID)
	if err != nil || full.IsBare() {
		return
	}
	if m.Op == "unbind" {
		d.router.RemoveRemote(full, node)
		return
	}
	var pres *stanza.Element
	if m.Presence != "" {
		if pres, err = stanza.ParseBytes([]byte(m.Presence)); err != nil {
			d.log.Warn("directory: unreadable presence", "node", node, "jid", m.JID, "err", err)
		}
	}
	existing := d.router.Remote(full, node)
	if existing != nil && existing.Run() == m.Run {
		existing.SetRemoteState(m.Available, m.Priority, pres, m.Interested)
		return
	}
	// An entry of an earlier run of the node is replaced below.
	if existing == nil && m.Op != "bind" {
		// An update for a session we no longer have: it was unbound, and
		// its last presence change (unavailable) went out after that.
		return
	}
	rc := &remoteConn{d: d, node: node, to: full}
	s := router.NewRemote(full, node, m.Run, rc, m.Available, m.Priority, pres, m.Interested)
	rc.sess.Store(s)
	if displaced := d.router.PutRemote(s); displaced != nil {
		// The same full JID was bound here too: the newer binding, on the
		// other node, wins (RFC 6120 §7.7.2.2, as on one node).
		displaced.Close(stanza.NewStreamError(stanza.StreamConflict, "replaced by a new connection with the same resource"))
	}
}

// onNode handles a stanza or a close for one of this node's sessions.
func (d *Directory) onNode(msg *nats.Msg) {
	m, err := decodeNode(msg.Data)
	if err != nil {
		d.log.Warn("directory: unreadable node message", "err", err)
		return
	}
	full, err := jid.Parse(m.To)
	if err != nil {
		return
	}
	if m.Op == "fanout" {
		if err := d.router.DeliverLocalAvailableRaw(full.Bare(), []byte(m.XML)); err != nil {
			d.log.Warn("directory: unreadable forwarded stanza", "to", m.To, "err", err)
		}
		return
	}
	s := d.router.Session(full)
	if s == nil || !s.IsLocal() {
		if m.Op == "deliver" {
			d.missed(full, m)
		}
		return
	}
	switch m.Op {
	case "deliver":
		// The bytes were serialized for a client by the sending node: the
		// connection writes them as they are.
		if err := s.DeliverRaw([]byte(m.XML)); err != nil {
			d.log.Warn("directory: unreadable forwarded stanza", "to", m.To, "err", err)
		}
	case "close":
		s.Close(&stanza.StreamError{Condition: stanza.StreamCondition(m.Meta), Text: m.Text})
	}
}

// missed handles a stanza forwarded here for a session that has already
// left this node (its stream closed, or it moved): the core routes it as
// for a resource that is gone. It may go on to one other node, once: a
// stanza that misses twice stays on this node or goes to offline storage.
func (d *Directory) missed(full jid.JID, m nodeMsg) {
	el, err := stanza.ParseBytes([]byte(m.XML))
	if err != nil {
		d.log.Warn("directory: unreadable forwarded stanza", "to", m.To, "err", err)
		return
	}
	meta, again := strings.CutSuffix(m.Meta, "+")
	prio, _ := strconv.Atoi(meta)
	g := im.Gone{JID: full, Priority: prio, Rerouted: again}
	if !again {
		g.Forward = func(ss *router.Session, st *stanza.Element) {
			_, p := ss.Available()
			d.send(ss.Node(), nodeMsg{Op: "deliver", To: ss.JID().String(), Meta: strconv.Itoa(p) + "+", XML: string(st.AppendXML(nil, stanza.NSClient))})
		}
	}
	d.log.Debug("directory: rerouting a stanza for a session no longer here", "to", m.To, "again", again)
	d.core.Undeliverable(context.Background(), g, el)
}

// membership drops the sessions of a node that left or died and tells
// local contacts they are gone.
func (d *Directory) membership(ev cluster.Event) {
	if ev.Kind != cluster.Left && ev.Kind != cluster.Died || ev.Member.Name == d.name {
		return
	}
	gone := d.router.RemoveNode(ev.Member.Name, ev.Member.ID)
	if len(gone) > 0 {
		d.log.Info("directory: dropped the sessions of a departed node", "node", ev.Member.Name, "sessions", len(gone), "event", ev.Kind.String())
	}
	for _, s := range gone {
		d.core.RemoteSessionGone(context.Background(), s)
	}
}

// remoteConn is the Conn of a session on another node.
type remoteConn struct {
	d    *Directory
	node string
	to   jid.JID
	sess atomic.Pointer[router.Session] // the entry it belongs to
}

func (c *remoteConn) Deliver(el *stanza.Element) {
	m := nodeMsg{Op: "deliver", To: c.to.String(), XML: string(el.AppendXML(nil, stanza.NSClient))}
	if s := c.sess.Load(); s != nil {
		_, p := s.Available()
		m.Meta = strconv.Itoa(p)
	}
	c.d.send(c.node, m)
}

// DeliverAvailable sends one message for all of bare's available resources
// on the node (router.Fanout).
func (c *remoteConn) DeliverAvailable(bare jid.JID, el *stanza.Element) {
	c.d.send(c.node, nodeMsg{Op: "fanout", To: bare.String(), XML: string(el.AppendXML(nil, stanza.NSClient))})
}

func (c *remoteConn) Close(err *stanza.StreamError) {
	m := nodeMsg{Op: "close", To: c.to.String(), Meta: string(stanza.StreamUndefined)}
	if err != nil {
		m.Meta, m.Text = string(err.Condition), err.Text
	}
	c.d.send(c.node, m)
}
