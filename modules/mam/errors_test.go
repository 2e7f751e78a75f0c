package mam_test

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/mam"
	"github.com/parley-im/parley/stanza"
)

func TestErrors(t *testing.T) {
	e := newEnv(t, mam.Config{MaxPage: 5})
	theirs := e.archive(t, romeo, owner, t0, "<message><body>romeo's</body></message>")
	unknown := "01HXZ3NDEKTSV4RRFFQ69G5FAV"
	withNode := query("n")
	withNode.SetAttr("node", "urn:xmpp:microblog:0")
	submitForm := form(field("with", romeo))
	submitForm.SetAttr("type", "form")
	tests := []struct {
		name    string
		typ, to string
		payload *stanza.Element
		cond    stanza.Condition
		text    string // the error text contains it
	}{
		{name: "bad start", payload: query("q", form(field("start", "yesterday"))), cond: stanza.BadRequest, text: "'start'"},
		{name: "bad end", payload: query("q", form(field("end", "2024-13-01T00:00:00Z"))), cond: stanza.BadRequest, text: "'end'"},
		{name: "date without zone", payload: query("q", form(field("start", "2024-05-01T10:00:00"))), cond: stanza.BadRequest, text: "'start'"},
		{name: "bad with", payload: query("q", form(field("with", "romeo@"))), cond: stanza.BadRequest, text: "'with'"},
		{name: "two withs", payload: query("q", form(field("with", romeo, nurse))), cond: stanza.BadRequest, text: "'with'"},
		{name: "two starts", payload: query("q", form(field("start", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"))), cond: stanza.BadRequest, text: "'start'"},
		{name: "two after-ids", payload: query("q", form(field("after-id", e.msgs[0].ID, e.msgs[1].ID))), cond: stanza.BadRequest, text: "'after-id'"},
		{name: "field twice", payload: query("q", form(field("with", romeo), field("with", romeo))), cond: stanza.BadRequest, text: `"with"`},
		{name: "wrong FORM_TYPE", payload: query("q", stanza.New("x", mam.NSData, "type", "submit").Append(field("FORM_TYPE", "urn:xmpp:mam:1"))), cond: stanza.BadRequest, text: "FORM_TYPE"},
		{name: "form not submitted", payload: query("q", submitForm), cond: stanza.BadRequest, text: "submit"},
		{name: "unknown field", payload: query("q", form(field("{urn:example}full-text", "love"))), cond: stanza.FeatureNotImplemented, text: "full-text"},
		{name: "include-groupchat", payload: query("q", form(field("include-groupchat", "true"))), cond: stanza.FeatureNotImplemented, text: "include-groupchat"},
		{name: "too many ids", payload: query("q", form(field("ids", e.ids(0, 1, 2, 3, 4, 5)...))), cond: stanza.NotAcceptable, text: "'ids'"},
		{name: "unknown after-id", payload: query("q", form(field("after-id", unknown))), cond: stanza.ItemNotFound},
		{name: "unknown before-id", payload: query("q", form(field("before-id", "not-an-id"))), cond: stanza.ItemNotFound},
		{name: "unknown id in ids", payload: query("q", form(field("ids", e.msgs[0].ID, unknown))), cond: stanza.ItemNotFound},
		{name: "another archive's id in ids", payload: query("q", form(field("ids", theirs.ID))), cond: stanza.ItemNotFound},
		{name: "another archive's after-id", payload: query("q", form(field("after-id", theirs.ID))), cond: stanza.ItemNotFound},
		{name: "unknown RSM after", payload: query("q", rsm("max=2", "after="+unknown)), cond: stanza.ItemNotFound},
		{name: "unknown RSM before", payload: query("q", rsm("max=2", "before="+theirs.ID)), cond: stanza.ItemNotFound},
		{name: "RSM after and before", payload: query("q", rsm("after="+e.msgs[1].ID, "before="+e.msgs[5].ID)), cond: stanza.BadRequest, text: "<after/>"},
		{name: "RSM index", payload: query("q", rsm("max=2", "index=3")), cond: stanza.FeatureNotImplemented, text: "index"},
		{name: "RSM negative max", payload: query("q", rsm("max=-1")), cond: stanza.BadRequest, text: "<max/>"},
		{name: "RSM max not a number", payload: query("q", rsm("max=ten")), cond: stanza.BadRequest, text: "<max/>"},
		{name: "pubsub node", payload: withNode, cond: stanza.ItemNotFound},
		{name: "another account's archive", to: romeo, payload: query("q"), cond: stanza.Forbidden},
		{name: "an account that does not exist", to: "nobody@example.com", payload: query("q"), cond: stanza.Forbidden},
		{name: "another account's form", typ: "get", to: romeo, payload: query(""), cond: stanza.Forbidden},
		{name: "another account's prefs", typ: "get", to: romeo, payload: stanza.New("prefs", mam.NS), cond: stanza.Forbidden},
		{name: "another account's metadata", typ: "get", to: romeo, payload: stanza.New("metadata", mam.NS), cond: stanza.Forbidden},
		{name: "the server's archive", to: "example.com", payload: query("q"), cond: stanza.ServiceUnavailable},
		{name: "metadata set", payload: stanza.New("metadata", mam.NS), cond: stanza.BadRequest, text: "get"},
		{name: "unknown element", payload: stanza.New("archive", mam.NS), cond: stanza.FeatureNotImplemented, text: "archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := tt.typ
			if typ == "" {
				typ = "set"
			}
			before, reply := run(t, e.c, typ, tt.to, tt.payload)
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
			if !strings.Contains(modtest.Text(reply), tt.text) {
				t.Errorf("text %q does not name %s", modtest.Text(reply), tt.text)
			}
			if len(before) != 0 {
				t.Errorf("results before the error: %v", before)
			}
		})
	}
	// Valid bounds of the same kinds still work.
	p := e.ask(t, query("ok", form(field("start", t0.Format(time.RFC3339)), field("ids", e.ids(0, 1, 2, 3, 4)...)), rsm("max=2", "after="+e.msgs[0].ID)))
	e.pageIs(t, p, []int{1, 2}, 1, 5, false)
}
