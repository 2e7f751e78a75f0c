package xtime_test

import (
	"testing"
	"time"

	"github.com/parley-im/parley/modules/internal/modtest"
	"github.com/parley-im/parley/modules/xtime"
	"github.com/parley-im/parley/stanza"
)

func TestTime(t *testing.T) {
	// XEP-0202's example: 17:58:35 UTC seen from a -06:00 zone.
	at := time.Date(2006, 12, 19, 11, 58, 35, 500e6, time.FixedZone("CST", -6*3600))
	tests := []struct {
		name     string
		now      time.Time
		typ      string
		payload  *stanza.Element
		tzo, utc string
		cond     stanza.Condition
	}{
		{name: "offset zone", now: at, typ: "get", tzo: "-06:00", utc: "2006-12-19T17:58:35Z"},
		{name: "utc", now: at.UTC(), typ: "get", tzo: "+00:00", utc: "2006-12-19T17:58:35Z"},
		{name: "half hour zone", now: at.In(time.FixedZone("IST", 5*3600+1800)), typ: "get", tzo: "+05:30", utc: "2006-12-19T17:58:35Z"},
		{name: "set", now: at, typ: "set", cond: stanza.NotAllowed},
		{name: "wrong element", now: at, typ: "get", payload: stanza.New("query", xtime.NS), cond: stanza.BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := modtest.New(t)
			xtime.New(func() time.Time { return tt.now }).Register(env.Server)
			env.Account("juliet")
			c := env.Bind("juliet@example.com/balcony")
			p := tt.payload
			if p == nil {
				p = stanza.New("time", xtime.NS)
			}
			reply := c.IQ(tt.typ, "example.com", p)
			if got := modtest.Condition(reply); got != tt.cond {
				t.Fatalf("condition = %q, want %q: %s", got, tt.cond, reply)
			}
			if tt.cond != "" {
				return
			}
			el := reply.Child("time", xtime.NS)
			if tzo := el.Child("tzo", xtime.NS).Text(); tzo != tt.tzo {
				t.Errorf("tzo = %q, want %q", tzo, tt.tzo)
			}
			if utc := el.Child("utc", xtime.NS).Text(); utc != tt.utc {
				t.Errorf("utc = %q, want %q", utc, tt.utc)
			}
		})
	}
}
