package vcard_test

import (
	"strings"
	"testing"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/vcard"
	"github.com/parley-im/parley/stanza"
)

const card = `<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><N><FAMILY>Capulet</FAMILY><GIVEN>Juliet</GIVEN></N><DESC>a &lt;b&gt; &amp; c</DESC></vCard>`

func TestVCard(t *testing.T) {
	env := modtest.New(t)
	vcard.New(env.Store, 512).Register(env.Server)
	env.Account("juliet")
	env.Account("romeo")
	env.Account("nurse") // never sets a vCard
	jc := env.Bind("juliet@example.com/balcony")
	rc := env.Bind("romeo@example.com/orchard")
	big := `<vCard xmlns='vcard-temp'><DESC>` + strings.Repeat("x", 600) + `</DESC></vCard>`

	steps := []struct {
		name    string
		c       *modtest.Client
		typ, to string
		payload string
		cond    stanza.Condition
		want    string // the vCard in the result, serialized; "-" for none
		from    string // of the result
	}{
		{name: "own, none yet", c: jc, typ: "get", payload: `<vCard xmlns='vcard-temp'/>`, want: `<vCard xmlns='vcard-temp'/>`},
		{name: "other's, none yet", c: rc, typ: "get", to: "juliet@example.com", payload: `<vCard xmlns='vcard-temp'/>`, cond: stanza.ServiceUnavailable},
		{name: "set own", c: jc, typ: "set", payload: card, want: "-"},
		{name: "get own", c: jc, typ: "get", payload: `<vCard xmlns='vcard-temp'/>`, want: card},
		{name: "get own to bare JID", c: jc, typ: "get", to: "juliet@example.com", payload: `<vCard xmlns='vcard-temp'/>`, want: card, from: "juliet@example.com"},
		{name: "get other's", c: rc, typ: "get", to: "juliet@example.com", payload: `<vCard xmlns='vcard-temp'/>`, want: card, from: "juliet@example.com"},
		{name: "other without vCard", c: rc, typ: "get", to: "nurse@example.com", payload: `<vCard xmlns='vcard-temp'/>`, cond: stanza.ServiceUnavailable},
		{name: "no such account", c: rc, typ: "get", to: "nobody@example.com", payload: `<vCard xmlns='vcard-temp'/>`, cond: stanza.ServiceUnavailable},
		{name: "set other's", c: rc, typ: "set", to: "juliet@example.com", payload: `<vCard xmlns='vcard-temp'><FN>Romeo</FN></vCard>`, cond: stanza.Forbidden},
		{name: "too large", c: jc, typ: "set", payload: big, cond: stanza.NotAcceptable},
		{name: "wrong element", c: jc, typ: "set", payload: `<card xmlns='vcard-temp'/>`, cond: stanza.BadRequest},
		{name: "server has none", c: jc, typ: "get", to: "example.com", payload: `<vCard xmlns='vcard-temp'/>`, cond: stanza.ServiceUnavailable},
		{name: "unchanged after failures", c: rc, typ: "get", to: "juliet@example.com", payload: `<vCard xmlns='vcard-temp'/>`, want: card, from: "juliet@example.com"},
		{name: "replace", c: jc, typ: "set", payload: `<vCard xmlns='vcard-temp'><FN>J</FN></vCard>`, want: "-"},
		{name: "replaced", c: jc, typ: "get", payload: `<vCard xmlns='vcard-temp'/>`, want: `<vCard xmlns='vcard-temp'><FN>J</FN></vCard>`},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			reply := tt.c.IQ(tt.typ, tt.to, modtest.Parse(t, tt.payload))
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
			if tt.cond != "" {
				return
			}
			if reply.From() != tt.from {
				t.Errorf("from = %q, want %q", reply.From(), tt.from)
			}
			got := "-"
			if v := reply.FirstElement(); v != nil {
				got = string(v.AppendXML(nil, ""))
			}
			if got != tt.want {
				t.Errorf("vCard = %s\nwant %s", got, tt.want)
			}
		})
	}
}

// A prefix declared on the iq and used inside the vCard is carried into
// what is stored, so the vCard can be read back.
func TestVCardInheritedPrefix(t *testing.T) {
	env := modtest.New(t)
	vcard.New(env.Store, 0).Register(env.Server)
	env.Account("juliet")
	jc := env.Bind("juliet@example.com/balcony")
	iq := modtest.Parse(t, `<iq xmlns='jabber:client' xmlns:x='urn:x' type='set' id='s1'><vCard xmlns='vcard-temp'><FN x:lang='en'>J</FN></vCard></iq>`)
	jc.Send(iq)
	if got := jc.Take(); len(got) != 1 || got[0].Type() != "result" {
		t.Fatalf("set: %v", got)
	}
	reply := jc.IQ("get", "", stanza.New("vCard", vcard.NS))
	fn := reply.FirstElement().Child("FN", vcard.NS)
	if fn == nil || fn.Attr("x:lang") != "en" || fn.Text() != "J" {
		t.Errorf("read back %s", reply)
	}
}
