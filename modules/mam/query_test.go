package mam_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/modules/mam"
	"github.com/parley-im/parley/stanza"
)

func TestWholeArchive(t *testing.T) {
	e := newEnv(t, mam.Config{})
	other := e.Bind("juliet@example.com/chamber")
	p := e.ask(t, query("f27"))
	all := e.ids(span(0, archive)...)
	if !slices.Equal(p.ids, all) {
		t.Errorf("results %v, want %v", p.ids, all)
	}
	if !p.complete || p.first != all[0] || p.last != all[archive-1] || p.index != "0" || p.count != "10" {
		t.Errorf("fin: %+v", p)
	}
	if got := other.Take(); len(got) != 0 {
		t.Errorf("another resource got %v", got)
	}
	// Without a queryid the results carry none (checked by ask).
	if p := e.ask(t, query("")); len(p.ids) != archive {
		t.Errorf("without queryid: %d results", len(p.ids))
	}
	// A form with only FORM_TYPE, and an empty field, select everything.
	if p := e.ask(t, query("q", form(field("with", "")))); len(p.ids) != archive || !p.complete {
		t.Errorf("empty form: %+v", p)
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t, mam.Config{})
	at := func(i int) string { return t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano) }
	tests := []struct {
		name   string
		fields []*stanza.Element
		want   []int
	}{
		{name: "with bare", fields: []*stanza.Element{field("with", romeo)}, want: []int{0, 2, 4, 6, 8}},
		{name: "with bare of a full", fields: []*stanza.Element{field("with", "nurse@example.com")}, want: []int{1, 3, 5, 7, 9}},
		{name: "with full", fields: []*stanza.Element{field("with", nurse)}, want: []int{1, 3, 5, 7, 9}},
		{name: "with another resource", fields: []*stanza.Element{field("with", "nurse@example.com/garden")}, want: nil},
		{name: "with unnormalized", fields: []*stanza.Element{field("with", "Romeo@EXAMPLE.com")}, want: []int{0, 2, 4, 6, 8}},
		{name: "start and end", fields: []*stanza.Element{field("start", at(2)), field("end", at(5))}, want: span(2, 6)},
		{name: "start only", fields: []*stanza.Element{field("start", at(7))}, want: span(7, 10)},
		{name: "end only", fields: []*stanza.Element{field("end", at(1))}, want: span(0, 2)},
		{name: "start without fraction", fields: []*stanza.Element{field("start", "2024-05-01T10:00:04Z")}, want: span(4, 10)},
		{name: "end with offset", fields: []*stanza.Element{field("end", "2024-05-01T12:00:02+02:00")}, want: span(0, 2)},
		{name: "start after end", fields: []*stanza.Element{field("start", at(5)), field("end", at(2))}, want: nil},
		{name: "after-id", fields: []*stanza.Element{field("after-id", e.msgs[6].ID)}, want: span(7, 10)},
		{name: "before-id", fields: []*stanza.Element{field("before-id", e.msgs[3].ID)}, want: span(0, 3)},
		{name: "between ids", fields: []*stanza.Element{field("after-id", e.msgs[2].ID), field("before-id", e.msgs[6].ID)}, want: span(3, 6)},
		{name: "ids", fields: []*stanza.Element{field("ids", e.msgs[8].ID, e.msgs[1].ID, e.msgs[4].ID)}, want: []int{1, 4, 8}},
		{name: "one id", fields: []*stanza.Element{field("ids", e.msgs[5].ID)}, want: []int{5}},
		{name: "ids repeated", fields: []*stanza.Element{field("ids", e.msgs[5].ID, e.msgs[5].ID)}, want: []int{5}},
		{name: "ids and with", fields: []*stanza.Element{field("ids", e.msgs[1].ID, e.msgs[2].ID), field("with", romeo)}, want: []int{2}},
		{name: "with and time", fields: []*stanza.Element{field("with", romeo), field("start", at(3)), field("end", at(8))}, want: []int{4, 6, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.ask(t, query("f", form(tt.fields...)))
			want := e.ids(tt.want...)
			if !slices.Equal(p.ids, want) {
				t.Errorf("results %v, want %v", p.ids, want)
			}
			if !p.complete || p.count != strconv.Itoa(len(want)) {
				t.Errorf("complete=%v count=%s, want complete and %d", p.complete, p.count, len(want))
			}
			if len(want) == 0 && (p.first != "" || p.last != "" || p.index != "-") {
				t.Errorf("empty page has first/last: %+v", p)
			}
			if len(want) > 0 && (p.first != want[0] || p.last != want[len(want)-1] || p.index != "0") {
				t.Errorf("first/last/index: %+v", p)
			}
		})
	}
}

// pageIs checks a page: its results are the seeded messages at want, and
// its fin says index, count and complete.
func (e *env) pageIs(t *testing.T, p page, want []int, index, count int, complete bool) {
	t.Helper()
	ids := e.ids(want...)
	if !slices.Equal(p.ids, ids) {
		t.Fatalf("results %v, want %v", p.ids, ids)
	}
	if p.first != ids[0] || p.last != ids[len(ids)-1] || p.index != strconv.Itoa(index) || p.count != strconv.Itoa(count) || p.complete != complete {
		t.Fatalf("fin %+v, want first %s last %s index %d count %d complete %v", p, ids[0], ids[len(ids)-1], index, count, complete)
	}
}

func TestPagingForward(t *testing.T) {
	e := newEnv(t, mam.Config{})
	var got []string
	after := ""
	for i, want := range [][]int{span(0, 3), span(3, 6), span(6, 9), {9}} {
		set := rsm("max=3")
		if after != "" {
			set = rsm("max=3", "after="+after)
		}
		p := e.ask(t, query("fwd", set))
		e.pageIs(t, p, want, want[0], archive, i == 3)
		got = append(got, p.ids...)
		after = p.last
	}
	if all := e.ids(span(0, archive)...); !slices.Equal(got, all) {
		t.Errorf("paged through %v, want %v", got, all)
	}
	// After the last message: an empty, complete page.
	p := e.ask(t, query("fwd", rsm("max=3", "after="+after)))
	if len(p.ids) != 0 || !p.complete || p.first != "" || p.count != "10" {
		t.Errorf("page after the end: %+v", p)
	}
}

func TestPagingBackward(t *testing.T) {
	e := newEnv(t, mam.Config{})
	var got []string
	before := ""
	for i, want := range [][]int{span(7, 10), span(4, 7), span(1, 4), {0}} {
		p := e.ask(t, query("back", rsm("max=3", "before="+before)))
		e.pageIs(t, p, want, want[0], archive, i == 3)
		got = append(p.ids, got...)
		before = p.first
	}
	if all := e.ids(span(0, archive)...); !slices.Equal(got, all) {
		t.Errorf("paged back through %v, want %v", got, all)
	}
}

func TestPagingFiltered(t *testing.T) {
	e := newEnv(t, mam.Config{})
	with := form(field("with", romeo))
	p := e.ask(t, query("f", with, rsm("max=2")))
	e.pageIs(t, p, []int{0, 2}, 0, 5, false)
	p = e.ask(t, query("f", with, rsm("max=2", "after="+p.last)))
	e.pageIs(t, p, []int{4, 6}, 2, 5, false)
	p = e.ask(t, query("f", with, rsm("max=2", "after="+p.last)))
	e.pageIs(t, p, []int{8}, 4, 5, true)
	// Backward from the end, then from the middle.
	p = e.ask(t, query("f", with, rsm("max=2", "before=")))
	e.pageIs(t, p, []int{6, 8}, 3, 5, false)
	p = e.ask(t, query("f", with, rsm("max=2", "before="+p.first)))
	e.pageIs(t, p, []int{2, 4}, 1, 5, false)
	// RSM bounds with the form's id bounds.
	p = e.ask(t, query("f", form(field("after-id", e.msgs[1].ID), field("before-id", e.msgs[8].ID)), rsm("max=2", "after="+e.msgs[3].ID)))
	e.pageIs(t, p, []int{4, 5}, 2, 6, false)
}

func TestPageSize(t *testing.T) {
	e := newEnv(t, mam.Config{DefaultPage: 4, MaxPage: 6})
	p := e.ask(t, query("d"))
	e.pageIs(t, p, span(0, 4), 0, archive, false)
	p = e.ask(t, query("m", rsm("max=100")))
	e.pageIs(t, p, span(0, 6), 0, archive, false)
	p = e.ask(t, query("l", rsm("max=100", "before=")))
	e.pageIs(t, p, span(4, 10), 4, archive, false)

	// The defaults: 50 and 250.
	e = newEnv(t, mam.Config{})
	for i := range 260 - archive {
		at := t0.Add(time.Hour + time.Duration(i)*time.Millisecond)
		e.msgs = append(e.msgs, e.archive(t, owner, romeo, at, "<message type='chat'><body>x</body></message>"))
	}
	p = e.ask(t, query("d"))
	e.pageIs(t, p, span(0, mam.DefaultPage), 0, 260, false)
	p = e.ask(t, query("m", rsm("max=1000")))
	e.pageIs(t, p, span(0, mam.MaxPage), 0, 260, false)
}

func TestCountOnly(t *testing.T) {
	e := newEnv(t, mam.Config{})
	p := e.ask(t, query("c", rsm("max=0")))
	if len(p.ids) != 0 || p.count != "10" || p.first != "" || p.last != "" || p.complete {
		t.Errorf("max=0: %+v", p)
	}
	p = e.ask(t, query("c", form(field("with", "tybalt@example.com")), rsm("max=0")))
	if len(p.ids) != 0 || p.count != "0" || !p.complete {
		t.Errorf("max=0 on nothing: %+v", p)
	}
}

func TestFlipPage(t *testing.T) {
	e := newEnv(t, mam.Config{})
	flip := stanza.New("flip-page", mam.NS)
	p := e.ask(t, query("flip", rsm("max=3", "after="+e.msgs[2].ID), flip))
	if want := e.ids(5, 4, 3); !slices.Equal(p.ids, want) {
		t.Errorf("flipped results %v, want %v", p.ids, want)
	}
	// The page itself is unchanged: first and last in archive order.
	if p.first != e.msgs[3].ID || p.last != e.msgs[5].ID || p.index != "3" || p.complete {
		t.Errorf("flipped fin %+v", p)
	}
	p = e.ask(t, query("flip", rsm("max=4", "before="), flip))
	if want := e.ids(9, 8, 7, 6); !slices.Equal(p.ids, want) || p.first != e.msgs[6].ID || p.last != e.msgs[9].ID {
		t.Errorf("flipped last page %v (%+v), want %v", p.ids, p, want)
	}
}

func TestEmptyArchive(t *testing.T) {
	e := newEnv(t, mam.Config{})
	e.Account("nurse")
	c := e.Bind("nurse@example.com/kitchen")
	before, reply := run(t, c, "set", "", query("e"))
	fin := reply.Child("fin", mam.NS)
	want := `<fin xmlns='urn:xmpp:mam:2' complete='true'><set xmlns='http://jabber.org/protocol/rsm'><count>0</count></set></fin>`
	if len(before) != 0 || fin == nil || fin.String() != want {
		t.Errorf("empty archive: %v then %s", before, reply)
	}
}

// A stored message that no longer parses is still a result, without the
// message (XEP-0313 §3.2), and paging stays consistent.
func TestUnreadableStoredMessage(t *testing.T) {
	e := newEnv(t, mam.Config{})
	bad := e.archive(t, owner, romeo, t0.Add(time.Minute), "<message><body>cut")
	before, reply := run(t, e.c, "set", "", query("u", rsm("max=1", "before=")))
	if reply.Type() != "result" || len(before) != 1 {
		t.Fatalf("got %v then %s", before, reply)
	}
	res := before[0].Child("result", mam.NS)
	fwd := res.Child("forwarded", mam.NSForward)
	if res.Attr("id") != bad.ID || fwd == nil || fwd.Child("delay", stanza.NSDelay) == nil || fwd.Child("message", "") != nil {
		t.Errorf("result for an unreadable message: %s", before[0])
	}
}

func TestQueryForm(t *testing.T) {
	e := newEnv(t, mam.Config{})
	before, reply := run(t, e.c, "get", "", stanza.New("query", mam.NS))
	x := reply.Child("query", mam.NS).Child("x", mam.NSData)
	if len(before) != 0 || reply.Type() != "result" || x == nil || x.Attr("type") != "form" {
		t.Fatalf("form reply %s", reply)
	}
	types := map[string]string{}
	for _, f := range x.Elements() {
		types[f.Attr("var")] = f.Attr("type")
		if f.Child("required", mam.NSData) != nil {
			t.Errorf("field %s is required (§4.1 forbids it)", f.Attr("var"))
		}
		if v := f.Attr("var"); v == "FORM_TYPE" && f.Child("value", mam.NSData).Text() != mam.NS {
			t.Errorf("FORM_TYPE %s", f)
		}
		if v := f.Attr("var"); v == "ids" && f.Child("validate", mam.NSValidate).Child("open", mam.NSValidate) == nil {
			t.Errorf("ids without an open <validate/>: %s", f)
		}
	}
	want := map[string]string{"FORM_TYPE": "hidden", "with": "jid-single", "start": "text-single", "end": "text-single",
		"before-id": "text-single", "after-id": "text-single", "ids": "list-multi"}
	if len(types) != len(want) {
		t.Errorf("fields %v, want %v", types, want)
	}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("field %s has type %q, want %q", k, types[k], v)
		}
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, mam.Config{})
	reply := e.c.IQ("get", "", stanza.New("metadata", mam.NS))
	md := reply.Child("metadata", mam.NS)
	start, end := md.Child("start", mam.NS), md.Child("end", mam.NS)
	first, last := e.msgs[0], e.msgs[archive-1]
	if start == nil || end == nil || start.Attr("id") != first.ID || end.Attr("id") != last.ID {
		t.Fatalf("metadata %s", reply)
	}
	for _, c := range []struct {
		el   *stanza.Element
		want time.Time
	}{{start, first.Time}, {end, last.Time}} {
		if at, err := time.Parse(time.RFC3339Nano, c.el.Attr("timestamp")); err != nil || !at.Equal(c.want) {
			t.Errorf("timestamp %q, want %s", c.el.Attr("timestamp"), c.want)
		}
	}
	e.Account("nurse")
	reply = e.Bind("nurse@example.com/kitchen").IQ("get", "", stanza.New("metadata", mam.NS))
	if md := reply.Child("metadata", mam.NS); md == nil || len(md.Nodes) != 0 {
		t.Errorf("metadata of an empty archive: %s", reply)
	}
}

func TestDisco(t *testing.T) {
	e := newEnv(t, mam.Config{})
	features := func(to string) []string {
		reply := e.c.IQ("get", to, stanza.New("query", "http://jabber.org/protocol/disco#info"))
		var out []string
		for _, f := range reply.Child("query", "").Elements() {
			if f.Name == "feature" {
				out = append(out, f.Attr("var"))
			}
		}
		return out
	}
	account := features(owner)
	for _, f := range []string{mam.NS, mam.NSExtended} {
		if !slices.Contains(account, f) {
			t.Errorf("account features %v lack %s", account, f)
		}
	}
	if slices.Contains(account, im.NSStanzaID) {
		t.Errorf("account advertises %s", im.NSStanzaID)
	}
	server := features("example.com")
	if !slices.Contains(server, im.NSStanzaID) || slices.Contains(server, mam.NS) {
		t.Errorf("server features %v: want %s and not %s", server, im.NSStanzaID, mam.NS)
	}
}

// A page whose messages exceed the byte budget is cut at the end paging
// goes on from, and paging still reaches every message.
func TestPageBytes(t *testing.T) {
	e := newEnv(t, mam.Config{MaxPageBytes: 1}) // one message a page
	var got []string
	after := ""
	for i := range archive {
		set := rsm("max=3")
		if after != "" {
			set = rsm("max=3", "after="+after)
		}
		p := e.ask(t, query("fwd", set))
		e.pageIs(t, p, []int{i}, i, archive, i == archive-1)
		got, after = append(got, p.ids...), p.last
	}
	if all := e.ids(span(0, archive)...); !slices.Equal(got, all) {
		t.Errorf("paged through %v, want %v", got, all)
	}
	p := e.ask(t, query("back", rsm("max=3", "before=")))
	e.pageIs(t, p, []int{9}, 9, archive, false)
	p = e.ask(t, query("back", rsm("max=3", "before="+p.first)))
	e.pageIs(t, p, []int{8}, 8, archive, false)
	p = e.ask(t, query("back", rsm("max=3", "before="+e.msgs[1].ID)))
	e.pageIs(t, p, []int{0}, 0, archive, true)

	// A budget for two and a bit (with the 256 bytes the module reckons
	// for a result's wrapping): pages of two.
	e = newEnv(t, mam.Config{MaxPageBytes: 2*(len(e.msgs[0].Stanza)+256) + 100})
	p = e.ask(t, query("fwd", rsm("max=3")))
	e.pageIs(t, p, []int{0, 1}, 0, archive, false)
	p = e.ask(t, query("back", rsm("max=3", "before=")))
	e.pageIs(t, p, []int{8, 9}, 8, archive, false)
}
