package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testpg"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// TestChaos is the delivery guarantee under fire: users with two devices
// each, spread over three nodes, chat while nodes are killed with SIGKILL
// and restarted at random. Every device is a careful client: stream
// management with resumption, acknowledgements both ways, messages resent
// after a resumption (only those the server had not acknowledged), and,
// when a session cannot be resumed, a new one that catches up from the
// archive (XEP-0313), deduplicating by stanza-id — and checking the
// archive for its own unacknowledged messages before sending them again.
//
// Afterwards it checks and prints: every message acknowledged to its
// sender is in the recipient's archive, once, and reached each of the
// recipient's devices (live, by resumption, from offline storage or by
// archive catch-up); no message arrived under two stanza-ids; the archive
// keeps each sender→recipient pair in the order sent. Zero lost is the
// only pass.
//
// CHAOS_DURATION sets how long the chat runs under kills (default 30s, the
// form CI runs); CHAOS_USERS the number of users (default 4).
func TestChaos(t *testing.T) {
	dsn := testpg.Start(t)
	bin := parleyBinary(t)
	duration := envDuration(t, "CHAOS_DURATION", 30*time.Second)
	users := envInt(t, "CHAOS_USERS", 4)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("chaos: %d users x 2 devices, 3 nodes, %v of kills, seed %d", users, duration, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	cfgs := newNodeConfigs(t, bin, dsn, 3)
	for _, c := range cfgs {
		c.env = append(c.env, "PARLEY_STREAM_MANAGEMENT_RESUME_TIMEOUT=2m")
	}
	h := &harness{t: t, cfgs: cfgs, nodes: make([]*node, 3), runs: make([]int, 3)}
	for i := range cfgs {
		h.start(i)
	}
	waitMembers(t, joinTimeout, h.nodes, "n1", "n2", "n3")
	h.loadCerts()

	password := "chaos-" + randomHex(t, 8)
	var names []string
	for i := range users {
		names = append(names, fmt.Sprintf("u%d", i))
	}
	for _, u := range names {
		cfgs[0].addUser(t, u, password)
	}
	led := &ledger{msgs: map[string]*sentMsg{}}
	var devices []*device
	for i, u := range names {
		for _, res := range []string{"phone", "laptop"} {
			devices = append(devices, &device{h: h, led: led, user: u, res: res, password: password, peers: names,
				rng: rand.New(rand.NewPCG(seed+uint64(len(devices)), uint64(i))), got: map[string]string{}, how: map[string]string{}, lastIn: map[string]int{}})
		}
	}

	ctx, stopChat := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range devices {
		wg.Go(func() { d.run(ctx) })
	}

	// The chaos: a random node killed, restarted a moment later.
	end := time.Now().Add(duration)
	kills := 0
	for time.Now().Before(end) {
		time.Sleep(time.Duration(3000+rng.IntN(3000)) * time.Millisecond)
		i := rng.IntN(3)
		h.kill(i)
		kills++
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		h.start(i)
	}
	t.Logf("chaos: %d kills; every node running again", kills)
	waitMembers(t, 3*joinTimeout, h.nodes, "n1", "n2", "n3")

	// Quiet down: no new messages; every device gets its sent messages
	// acknowledged and then catches up from the whole archive.
	stopChat()
	wg.Wait()
	settle, cancelSettle := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancelSettle()
	for _, d := range devices {
		wg.Go(func() { d.settle(settle) })
	}
	wg.Wait()
	for _, d := range devices { // everything sent is in the archive now
		wg.Go(func() { d.finish(settle) })
	}
	wg.Wait()

	h.check(dsn, led, devices, names)
	for i := range h.nodes {
		h.nodes[i].stop(t)
	}
}

func envDuration(t *testing.T, key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return d
	}
	return def
}

func envInt(t *testing.T, key string, def int) int {
	if v := os.Getenv(key); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			t.Fatalf("%s: want an integer >= 2, got %q", key, v)
		}
		return n
	}
	return def
}

// harness runs the three nodes and knows where clients can reach them.
type harness struct {
	t     *testing.T
	cfgs  []*nodeConfig
	mu    sync.Mutex
	nodes []*node // the current run of each, nil while killed
	runs  []int
	roots *x509.CertPool
}

func (h *harness) start(i int) {
	h.mu.Lock()
	h.runs[i]++
	run := h.runs[i]
	h.mu.Unlock()
	n := h.cfgs[i].start(h.t, run)
	n.waitReady(h.t)
	h.mu.Lock()
	h.nodes[i] = n
	h.mu.Unlock()
}

func (h *harness) kill(i int) {
	h.mu.Lock()
	n := h.nodes[i]
	h.nodes[i] = nil
	h.mu.Unlock()
	n.kill(h.t)
	h.t.Logf("chaos: killed %s", n.label)
}

// loadCerts trusts every node's self-signed certificate (kept in its data
// directory across restarts).
func (h *harness) loadCerts() {
	h.roots = x509.NewCertPool()
	for _, n := range h.nodes {
		pem, err := os.ReadFile(n.cert)
		if err != nil {
			h.t.Fatal(err)
		}
		h.roots.AppendCertsFromPEM(pem)
	}
}

// addr returns the client address of a random running node.
func (h *harness) addr(rng *rand.Rand) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var up []string
	for _, n := range h.nodes {
		if n != nil {
			up = append(up, n.c2s)
		}
	}
	if len(up) == 0 {
		return ""
	}
	return up[rng.IntN(len(up))]
}

// ledger is every message sent, by its body ("from>to#n").
type ledger struct {
	mu   sync.Mutex
	msgs map[string]*sentMsg
}

type sentMsg struct {
	from, to string
	n        int
	acked    bool
}

// outStanza is a stanza a device sent and the server has not yet
// acknowledged (XEP-0198 counts every stanza).
type outStanza struct {
	body string // "" for anything but a chat message
	xml  []byte
}

// device is one careful client (see TestChaos).
type device struct {
	h        *harness
	led      *ledger
	user     string
	res      string
	password string
	peers    []string
	rng      *rand.Rand

	c       *xmppclient.Client
	smID    string
	inH     uint32      // stanzas received on the current session
	ackedN  uint32      // of ours, acknowledged by the server
	unacked []outStanza // sent, not acknowledged, oldest first
	next    int         // the next message number

	got        map[string]string // body -> stanza-id
	how        map[string]string // body -> how it first arrived
	lastIn     map[string]int    // sender device -> number of its newest message that came in the stream
	repeats    int               // messages that came again in the stream (same stanza-id)
	resumeTook []time.Duration   // from <resume/> to <resumed/>
	resumedAt  time.Time         // the last resumption
	errs       []string
	sessions   int
	resumes    int
	mamQueries int
}

func (d *device) jid() string { return d.user + "@" + domain + "/" + d.res }

func (d *device) fail(format string, args ...any) {
	d.errs = append(d.errs, d.jid()+": "+fmt.Sprintf(format, args...))
}

// run chats until ctx ends, reconnecting whenever its connection breaks.
func (d *device) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := d.connect(ctx); err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		d.chat(ctx, true)
	}
}

// settle, once the chat is over, gets every sent message acknowledged.
func (d *device) settle(ctx context.Context) {
	for ctx.Err() == nil {
		if d.c == nil {
			if err := d.connect(ctx); err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
		}
		if d.drain(ctx) {
			return
		}
		d.drop()
	}
	d.fail("did not settle: %d stanzas unacknowledged", len(d.unacked))
}

// finish, once every device settled, reads the whole archive.
func (d *device) finish(ctx context.Context) {
	for ctx.Err() == nil {
		if d.c == nil {
			if err := d.connect(ctx); err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
		}
		if d.catchUp(ctx) == nil && d.drain(ctx) {
			_ = d.c.Close()
			return
		}
		d.drop()
	}
	d.fail("could not read the archive to the end")
}

func (d *device) drop() {
	if d.c != nil {
		_ = d.c.Conn().Close()
		d.c = nil
	}
}

// connect logs in on a random running node and resumes the session, or
// starts a new one and catches up.
func (d *device) connect(ctx context.Context) error {
	addr := d.h.addr(d.rng)
	if addr == "" {
		return errors.New("no node running")
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(dctx, xmppclient.Config{
		Addr: addr, Domain: domain, Username: d.user, Password: d.password, Resource: d.res,
		TLS: &tls.Config{RootCAs: d.h.roots, MinVersion: tls.VersionTLS12}, StartTLS: true,
		StopAfter: xmppclient.StageAuth, Timeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	d.c = c
	if d.smID != "" {
		asked := time.Now()
		if err := d.raw(fmt.Appendf(nil, "<resume xmlns='%s' previd='%s' h='%d'/>", nsSM, d.smID, d.inH)); err != nil {
			d.drop()
			return err
		}
		r, err := d.await(func(el *stanza.Element) bool {
			return el.Space == nsSM && (el.Name == "resumed" || el.Name == "failed")
		}, 20*time.Second)
		if err != nil {
			d.drop()
			return err
		}
		if r.Name == "resumed" {
			h, _ := strconv.ParseUint(r.Attr("h"), 10, 32)
			d.resumes++
			d.resumedAt = time.Now()
			d.resumeTook = append(d.resumeTook, d.resumedAt.Sub(asked))
			d.acked(uint32(h))
			// What the server never got is sent again, in order.
			old := d.unacked
			d.unacked = nil
			for _, s := range old {
				if err := d.sendStanza(s); err != nil {
					d.drop()
					return err
				}
			}
			return nil
		}
	}
	// A new session.
	if _, err := c.Bind(dctx); err != nil {
		d.drop()
		return err
	}
	d.sessions++
	pending := d.unacked
	d.smID, d.inH, d.ackedN, d.unacked = "", 0, 0, nil
	if err := d.raw(fmt.Appendf(nil, "<enable xmlns='%s' resume='true'/>", nsSM)); err != nil {
		d.drop()
		return err
	}
	en, err := d.await(func(el *stanza.Element) bool {
		return el.Space == nsSM && (el.Name == "enabled" || el.Name == "failed")
	}, 20*time.Second)
	if err != nil || en.Name != "enabled" {
		d.drop()
		return fmt.Errorf("enable: %v %v", en, err)
	}
	d.smID = en.Attr("id")
	if err := d.sendStanza(outStanza{xml: []byte("<presence/>")}); err != nil {
		d.drop()
		return err
	}
	// Before sending again what the old session never had acknowledged,
	// find out from the archive which of it the server kept.
	if err := d.catchUp(ctx); err != nil {
		d.drop()
		return err
	}
	for _, s := range pending {
		if s.body == "" {
			continue // presence, acks: the new session has its own
		}
		if _, kept := d.got[s.body]; kept {
			d.led.ack(s.body) // it was archived: the server had it
			continue
		}
		if err := d.sendStanza(s); err != nil {
			d.drop()
			return err
		}
	}
	return nil
}

// chat sends a message now and then and handles what arrives, until ctx
// ends or the connection breaks.
func (d *device) chat(ctx context.Context, sending bool) {
	in := make(chan *stanza.Element, 64)
	rctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := d.c.StartReader(rctx, func(el *stanza.Element) { in <- el })
	tick := time.NewTicker(time.Duration(150+d.rng.IntN(150)) * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			stop()
			<-done
			d.drainIn(in)
			return
		case <-done:
			d.drainIn(in)
			d.drop()
			return
		case el := <-in:
			d.process(el, "live")
		case <-tick.C:
			if !sending {
				continue
			}
			peer := d.peers[d.rng.IntN(len(d.peers))]
			if peer == d.user {
				continue
			}
			d.next++
			body := fmt.Sprintf("%s>%s#%d", d.jid(), peer, d.next)
			d.led.add(body, &sentMsg{from: d.user, to: peer, n: d.next})
			x := fmt.Appendf(nil, "<message to='%s@%s' type='chat' id='%s'><body>%s</body><origin-id xmlns='urn:xmpp:sid:0' id='%s'/></message>", peer, domain, body, body, body)
			if d.sendStanza(outStanza{body: body, xml: x}) != nil || d.raw([]byte("<r xmlns='urn:xmpp:sm:3'/>")) != nil {
				stop()
				<-done
				d.drainIn(in)
				d.drop()
				return
			}
		}
	}
}

func (d *device) drainIn(in chan *stanza.Element) {
	for {
		select {
		case el := <-in:
			d.process(el, "live")
		default:
			return
		}
	}
}

// drain waits until the server has acknowledged everything sent.
func (d *device) drain(ctx context.Context) bool {
	deadline := time.Now().Add(10 * time.Second)
	for len(d.unacked) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		if d.raw([]byte("<r xmlns='urn:xmpp:sm:3'/>")) != nil {
			return false
		}
		if _, err := d.await(func(el *stanza.Element) bool { return el.Is("a", nsSM) }, 5*time.Second); err != nil {
			return false
		}
	}
	return len(d.unacked) == 0
}

// catchUp pages through the user's archive (everything, or since after)
// and records what it finds.
func (d *device) catchUp(ctx context.Context) error {
	after := ""
	for ctx.Err() == nil {
		d.mamQueries++
		qid := fmt.Sprintf("q%d", d.mamQueries)
		set := "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max></set>"
		if after != "" {
			set = "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max><after>" + after + "</after></set>"
		}
		x := fmt.Appendf(nil, "<iq type='set' id='%s'><query xmlns='urn:xmpp:mam:2' queryid='%s'>%s</query></iq>", qid, qid, set)
		if err := d.sendStanza(outStanza{xml: x}); err != nil {
			return err
		}
		res, err := d.await(func(el *stanza.Element) bool { return el.Name == "iq" && el.ID() == qid }, 20*time.Second)
		if err != nil {
			return err
		}
		if res.Type() != "result" {
			return fmt.Errorf("archive query: %s", res)
		}
		fin := res.Child("fin", "urn:xmpp:mam:2")
		if fin == nil {
			return fmt.Errorf("archive query without <fin/>: %s", res)
		}
		if fin.Attr("complete") == "true" {
			return nil
		}
		last := fin.Child("set", "http://jabber.org/protocol/rsm").Child("last", "http://jabber.org/protocol/rsm")
		if last == nil {
			return nil
		}
		after = last.Text()
	}
	return ctx.Err()
}

// await reads (no reader running) until match, handling everything read.
func (d *device) await(match func(*stanza.Element) bool, within time.Duration) (*stanza.Element, error) {
	_ = d.c.SetReadDeadline(time.Now().Add(within))
	defer func() { _ = d.c.SetReadDeadline(time.Time{}) }()
	for {
		el, err := d.c.Next()
		if err != nil {
			return nil, err
		}
		if el == nil {
			continue
		}
		d.process(el, "live")
		if match(el) {
			return el, nil
		}
	}
}

func (d *device) raw(b []byte) error { return d.c.SendRaw(b) }

// sendStanza sends a stanza counted by stream management.
func (d *device) sendStanza(s outStanza) error {
	if d.smID != "" {
		d.unacked = append(d.unacked, s)
	}
	return d.c.SendRaw(s.xml)
}

// acked applies the server's count of our stanzas it handled.
func (d *device) acked(h uint32) {
	n := h - d.ackedN
	if n > uint32(len(d.unacked)) {
		d.fail("server acknowledged %d stanzas, only %d were outstanding", h, d.ackedN+uint32(len(d.unacked)))
		n = uint32(len(d.unacked))
	}
	for _, s := range d.unacked[:n] {
		if s.body != "" {
			d.led.ack(s.body)
		}
	}
	d.unacked = d.unacked[n:]
	d.ackedN = h
}

// process handles one element from the server.
func (d *device) process(el *stanza.Element, how string) {
	if el.Space == nsSM {
		switch el.Name {
		case "r":
			_ = d.c.SendRaw(fmt.Appendf(nil, "<a xmlns='%s' h='%d'/>", nsSM, d.inH))
		case "a":
			h, _ := strconv.ParseUint(el.Attr("h"), 10, 32)
			d.acked(uint32(h))
		}
		return
	}
	if el.Space != stanza.NSClient || (el.Name != "message" && el.Name != "presence" && el.Name != "iq") {
		return
	}
	if d.smID != "" {
		d.inH++
	}
	if el.Name == "iq" && (el.Type() == "get" || el.Type() == "set") {
		_ = d.sendStanza(outStanza{xml: fmt.Appendf(nil, "<iq type='result' id='%s' to='%s'/>", el.ID(), el.From())})
		return
	}
	if el.Name != "message" {
		return
	}
	if r := el.Child("result", "urn:xmpp:mam:2"); r != nil {
		if fwd := r.Child("forwarded", "urn:xmpp:forward:0"); fwd != nil {
			if m := fwd.Child("message", stanza.NSClient); m != nil {
				d.record(m, r.Attr("id"), "archive")
			}
		}
		return
	}
	var sid string
	for _, c := range el.Elements() {
		if c.Is("stanza-id", "urn:xmpp:sid:0") && c.Attr("by") == d.user+"@"+domain {
			sid = c.Attr("id")
		}
	}
	if el.Child("delay", "urn:xmpp:delay") != nil {
		how = "offline"
	} else if at, ok := storage.ArchiveIDTime(sid); ok && at.Before(d.resumedAt) {
		how = "resumption" // sent again on <resumed/>, or replayed from the archive
	}
	if body(el) != "" {
		if sid == "" {
			d.fail("a message without our stanza-id: %s", el)
			return
		}
		d.record(el, sid, how)
	}
}

// record notes a message (ours, from the archive, or someone else's) under
// its stanza-id.
func (d *device) record(m *stanza.Element, sid, how string) {
	b := body(m)
	if b == "" {
		return
	}
	if prev, ok := d.got[b]; ok {
		if prev != sid {
			d.fail("%s arrived under two stanza-ids, %s and %s", b, prev, sid)
		}
		if how != "archive" {
			d.repeats++
		}
		return
	}
	d.got[b] = sid
	d.how[b] = how
	if how == "archive" {
		return // asked for, beside the stream
	}
	// What comes in the stream (live, on resumption, from offline storage)
	// comes in the order each sender sent it: a message held up while the
	// session moved must not arrive after a later one.
	sender, num, _ := strings.Cut(b, "#")
	n, _ := strconv.Atoi(num)
	if last := d.lastIn[sender]; n < last {
		d.fail("ORDER: %s arrived (%s) after #%d", b, how, last)
	} else {
		d.lastIn[sender] = n
	}
}

func (l *ledger) add(body string, m *sentMsg) {
	l.mu.Lock()
	l.msgs[body] = m
	l.mu.Unlock()
}

func (l *ledger) ack(body string) {
	l.mu.Lock()
	if m := l.msgs[body]; m != nil {
		m.acked = true
	}
	l.mu.Unlock()
}

// check prints what happened and fails on any loss, duplicate or
// reordering.
func (h *harness) check(dsn string, led *ledger, devices []*device, users []string) {
	t := h.t
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type row struct{ id, body string }
	archive := map[string][]row{} // owner bare -> rows in archive order
	rows, err := db.Query("SELECT owner, id, stanza FROM archive ORDER BY owner, id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var owner, id string
		var raw []byte
		if err := rows.Scan(&owner, &id, &raw); err != nil {
			t.Fatal(err)
		}
		el, err := stanza.ParseBytes(raw)
		if err != nil {
			t.Fatalf("unreadable archived message %s: %v", id, err)
		}
		archive[owner] = append(archive[owner], row{id, body(el)})
	}
	rows.Close()

	var problems []string
	for _, d := range devices {
		problems = append(problems, d.errs...)
	}
	led.mu.Lock()
	defer led.mu.Unlock()
	sent, acked := len(led.msgs), 0
	inArchive := map[string]map[string][]string{} // owner -> body -> ids
	for owner, rs := range archive {
		m := map[string][]string{}
		for _, r := range rs {
			m[r.body] = append(m[r.body], r.id)
		}
		inArchive[owner] = m
	}
	how := map[string]int{}
	for b, m := range led.msgs {
		if !m.acked {
			continue
		}
		acked++
		owner := m.to + "@" + domain
		switch ids := inArchive[owner][b]; {
		case len(ids) == 0:
			problems = append(problems, fmt.Sprintf("LOST: %s acknowledged to its sender, not in %s's archive", b, owner))
		case len(ids) > 1:
			problems = append(problems, fmt.Sprintf("DUPLICATE: %s is in %s's archive %d times: %v", b, owner, len(ids), ids))
		}
		for _, d := range devices {
			if d.user != m.to {
				continue
			}
			if _, ok := d.got[b]; !ok {
				problems = append(problems, fmt.Sprintf("LOST: %s acknowledged to its sender, never reached %s", b, d.jid()))
				continue
			}
			how[d.how[b]]++
		}
	}
	// Order per sender -> recipient in each recipient's archive.
	for owner, rs := range archive {
		last := map[string]int{}
		for _, r := range rs {
			m := led.msgs[r.body]
			if m == nil || m.to+"@"+domain != owner {
				continue
			}
			key := strings.SplitN(r.body, "#", 2)[0]
			if m.n < last[key] {
				problems = append(problems, fmt.Sprintf("ORDER: in %s's archive %s comes after #%d", owner, r.body, last[key]))
			}
			last[key] = m.n
		}
	}
	sessions, resumes, repeats := 0, 0, 0
	var took []time.Duration
	for _, d := range devices {
		sessions += d.sessions
		resumes += d.resumes
		repeats += d.repeats
		took = append(took, d.resumeTook...)
	}
	if len(took) > 0 {
		slices.Sort(took)
		q := func(p float64) time.Duration { return took[min(len(took)-1, int(p*float64(len(took))))] }
		t.Logf("chaos: <resume/> to <resumed/> over %d resumptions: p50 %v, p99 %v, max %v; %d messages came again in the stream (%.1f per resumption)",
			len(took), q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
			repeats, float64(repeats)/float64(len(took)))
	}
	kinds := slices.Sorted(func(yield func(string) bool) {
		for k := range how {
			if !yield(k) {
				return
			}
		}
	})
	var hows []string
	for _, k := range kinds {
		hows = append(hows, fmt.Sprintf("%s %d", k, how[k]))
	}
	t.Logf("chaos: %d messages sent, %d acknowledged to their senders; deliveries to devices: %s; %d sessions started, %d resumed",
		sent, acked, strings.Join(hows, ", "), sessions, resumes)
	if acked == 0 {
		problems = append(problems, "no message was acknowledged: the test proves nothing")
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		if len(problems) > 40 {
			problems = append(problems[:40], fmt.Sprintf("... and %d more", len(problems)-40))
		}
		t.Errorf("chaos: %d problems:\n%s", len(problems), strings.Join(problems, "\n"))
		return
	}
	t.Logf("chaos: zero lost, zero duplicated, order kept")
}
