package mam_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/modules/disco"
	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/mam"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

const (
	owner   = "juliet@example.com"
	me      = "juliet@example.com/balcony"
	romeo   = "romeo@example.com"
	nurse   = "nurse@example.com/kitchen"
	archive = 10 // messages seeded
)

// t0 is the time of the first seeded message; the others follow one
// second apart. The microseconds check that stamps keep them.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)

// seeded is one message put in the archive.
type seeded struct {
	ID     string
	Time   time.Time
	Stanza string // as stored: jabber:client without xmlns
}

// env is a server with the module (and disco) registered, juliet's archive
// seeded with messages alternating between romeo (even) and the nurse's
// kitchen resource (odd), and juliet's client bound.
type env struct {
	*modtest.Env
	c    *modtest.Client
	msgs []seeded
}

func newEnv(t *testing.T, cfg mam.Config) *env {
	e := &env{Env: modtest.New(t)}
	d := disco.New(e.Server)
	d.Register(e.Server)
	mam.New(e.Server, cfg).Register(e.Server, d)
	e.Account("juliet")
	e.Account("romeo")
	for i := range archive {
		at := t0.Add(time.Duration(i) * time.Second)
		with := romeo
		if i%2 == 1 {
			with = nurse
		}
		msg := stanza.New("message", stanza.NSClient, "from", with, "to", owner+"/balcony", "type", "chat", "id", "m"+strconv.Itoa(i)).
			Append(stanza.New("body", stanza.NSClient).SetText(fmt.Sprintf("line %d <&'>", i)))
		e.msgs = append(e.msgs, e.archive(t, owner, with, at, string(msg.AppendXML(nil, stanza.NSClient))))
	}
	e.c = e.Bind(me)
	return e
}

// archive stores one message for o directly in storage.
func (e *env) archive(t *testing.T, o, with string, at time.Time, st string) seeded {
	t.Helper()
	s := seeded{ID: storage.NewArchiveID(at), Time: at, Stanza: st}
	err := e.Store.Archive(e.Ctx, []storage.ArchiveEntry{{Owner: o, ID: s.ID, Time: at, With: with, Stanza: []byte(st)}}, nil)
	if err != nil {
		t.Fatalf("Archive: %v", err)
	}
	return s
}

// ids returns the ids of the seeded messages at the indices.
func (e *env) ids(idx ...int) []string {
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = e.msgs[n].ID
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// field is a submitted data form field.
func field(name string, values ...string) *stanza.Element {
	f := stanza.New("field", mam.NSData, "var", name)
	for _, v := range values {
		f.Append(stanza.New("value", mam.NSData).SetText(v))
	}
	return f
}

// form is a submitted query form with FORM_TYPE and the fields.
func form(fields ...*stanza.Element) *stanza.Element {
	x := stanza.New("x", mam.NSData, "type", "submit").Append(field("FORM_TYPE", mam.NS))
	return x.Append(fields...)
}

// rsm is an RSM <set/>; parts are "max=N", "after=ID", "before=ID",
// "before=" (empty: the last page) or "index=N".
func rsm(parts ...string) *stanza.Element {
	set := stanza.New("set", mam.NSRSM)
	for _, p := range parts {
		name, val, _ := strings.Cut(p, "=")
		set.Append(stanza.New(name, mam.NSRSM).SetText(val))
	}
	return set
}

// query is a <query/> with a queryid and the children.
func query(queryID string, children ...*stanza.Element) *stanza.Element {
	q := stanza.New("query", mam.NS)
	if queryID != "" {
		q.SetAttr("queryid", queryID)
	}
	return q.Append(children...)
}

var iqCount int

// run sends an iq from c and returns what c received: the stanzas before
// the reply, and the reply, which must come last.
func run(t *testing.T, c *modtest.Client, typ, to string, payload *stanza.Element) (before []*stanza.Element, reply *stanza.Element) {
	t.Helper()
	iqCount++
	id := "mam" + strconv.Itoa(iqCount)
	iq := stanza.New("iq", stanza.NSClient, "type", typ, "id", id).Append(payload)
	if to != "" {
		iq.SetAttr("to", to)
	}
	c.Send(iq)
	got := c.Take()
	if len(got) == 0 {
		t.Fatalf("no reply to %s", iq)
	}
	reply = got[len(got)-1]
	if reply.Name != "iq" || reply.ID() != id || (reply.Type() != "result" && reply.Type() != "error") {
		t.Fatalf("last stanza is not the reply to %s: %v", id, got)
	}
	return got[:len(got)-1], reply
}

// page is what a query returned.
type page struct {
	ids      []string // of the results, in the order they came
	first    string
	last     string
	index    string // of <first/>; "-" if there is no <first/>
	count    string // "-" if there is no <count/>
	complete bool
}

// ask runs a query that must succeed, checks every result message and
// returns the page.
func (e *env) ask(t *testing.T, payload *stanza.Element) page {
	t.Helper()
	before, reply := run(t, e.c, "set", "", payload)
	if reply.Type() != "result" {
		t.Fatalf("query failed: %s", reply)
	}
	fin := reply.Child("fin", mam.NS)
	if fin == nil {
		t.Fatalf("no <fin/> in %s", reply)
	}
	set := fin.Child("set", mam.NSRSM)
	if set == nil {
		t.Fatalf("no RSM <set/> in %s", fin)
	}
	p := page{index: "-", count: "-", complete: fin.Attr("complete") == "true"}
	if f := set.Child("first", mam.NSRSM); f != nil {
		p.first, p.index = f.Text(), f.Attr("index")
	}
	if l := set.Child("last", mam.NSRSM); l != nil {
		p.last = l.Text()
	}
	if c := set.Child("count", mam.NSRSM); c != nil {
		p.count = c.Text()
	}
	msgIDs := map[string]bool{}
	for _, m := range before {
		id := e.checkResult(t, m, payload.Attr("queryid"))
		p.ids = append(p.ids, id)
		if msgIDs[m.ID()] {
			t.Errorf("two result messages with id %q", m.ID())
		}
		msgIDs[m.ID()] = true
	}
	return p
}

// checkResult checks one result message (XEP-0313 §4.2) against the seeded
// archive and returns its archive id.
func (e *env) checkResult(t *testing.T, m *stanza.Element, queryID string) string {
	t.Helper()
	if m.Name != "message" || m.To() != me || m.From() != owner || m.ID() == "" {
		t.Fatalf("result message addressing: %s", m)
	}
	res := m.Child("result", mam.NS)
	if res == nil || res.Attr("queryid") != queryID || res.HasAttr("queryid") != (queryID != "") {
		t.Fatalf("result queryid, want %q: %s", queryID, m)
	}
	id := res.Attr("id")
	i := slices.IndexFunc(e.msgs, func(s seeded) bool { return s.ID == id })
	if i < 0 {
		t.Fatalf("result id %q is not a seeded message", id)
	}
	want := e.msgs[i]
	fwd := res.Child("forwarded", mam.NSForward)
	if fwd == nil {
		t.Fatalf("no <forwarded/>: %s", m)
	}
	delay := fwd.Child("delay", stanza.NSDelay)
	if delay == nil {
		t.Fatalf("no <delay/>: %s", m)
	}
	if at, err := time.Parse(time.RFC3339Nano, delay.Attr("stamp")); err != nil || !at.Equal(want.Time) {
		t.Errorf("delay stamp %q, want %s", delay.Attr("stamp"), want.Time.Format(time.RFC3339Nano))
	}
	orig := fwd.Child("message", stanza.NSClient)
	if orig == nil {
		t.Fatalf("no jabber:client <message/> inside <forwarded/>: %s", m)
	}
	if got := string(orig.AppendXML(nil, stanza.NSClient)); got != want.Stanza {
		t.Errorf("forwarded message\n got %s\nwant %s", got, want.Stanza)
	}
	// On the wire the forwarded message declares its namespace.
	wire := string(m.AppendXML(nil, stanza.NSClient))
	if !strings.Contains(wire, "<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='"+delay.Attr("stamp")+"'/><message xmlns='jabber:client' ") {
		t.Errorf("serialized result: %s", wire)
	}
	return id
}
