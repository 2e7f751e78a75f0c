package bench

import (
	"reflect"
	"slices"
	"testing"

	"github.com/parley-im/parley/stanza"
)

// TestDeliveryAccounting feeds one load deliveries, duplicates, strays and
// gaps, and checks that every message is accounted for.
func TestDeliveryAccounting(t *testing.T) {
	c := &crowd{r: &runner{cfg: Config{UserPrefix: "u"}}, senders: 2,
		jids: []string{"u0@x/r", "u1@x/r", "u2@x/r", "u3@x/r"}}
	c.thr = c.newLoad(tagThroughput, false, 0)
	c.lat = c.newLoad(tagLatency, true, 4)
	ld := c.lat
	c.current.Store(ld)
	ld.flows[0].sent.Store(5) // u0 sent 0..4 to u2; u1 sent nothing

	msg := func(typ, body string) *stanza.Element {
		m := stanza.New("message", stanza.NSClient, "type", typ)
		return m.Append(stanza.New("body", stanza.NSClient).SetText(body))
	}
	for _, d := range []struct {
		to int
		el *stanza.Element
	}{
		{2, msg("chat", "l 0 0 100")},
		{2, msg("chat", "l 0 1 100")},
		{2, msg("chat", "l 0 1 100")}, // duplicate
		{3, msg("chat", "l 0 2 100")}, // misrouted: counted lost too
		{2, msg("chat", "l 0 3 100")},
		{2, msg("chat", "l 0 9 100")}, // never sent
		{2, msg("chat", "hello")},     // not the tool's
		{0, msg("error", "l 0 4 100")},
	} {
		c.onMessage(d.to, d.el)
	}
	got := c.delivery(ld)
	want := Delivery{Senders: 2, Pairs: 2, Sent: 5, Delivered: 3, Lost: 2, Duplicates: 1, Misrouted: 1,
		Unexpected: 2, ErrorReplies: 1,
		LostExamples: []string{"u0→u2#2", "u0→u2#4"}, DuplicateExamples: []string{"u0→u2#1"}}
	if !slices.Equal(got.LostExamples, want.LostExamples) || !slices.Equal(got.DuplicateExamples, want.DuplicateExamples) {
		t.Errorf("examples lost %q dup %q, want %q %q", got.LostExamples, got.DuplicateExamples, want.LostExamples, want.DuplicateExamples)
	}
	got.LostExamples, got.DuplicateExamples, want.LostExamples, want.DuplicateExamples = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delivery = %+v\nwant       %+v", got, want)
	}
	if lat := ld.latencies(); len(lat) != 3 {
		t.Errorf("%d latencies kept, want 3", len(lat))
	}
}

func TestPercentile(t *testing.T) {
	v := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		p    float64
		want int64
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {0, 1}} {
		if got := percentile(v, tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %d, want %d", tt.p, got, tt.want)
		}
	}
	if d := distribution(nil); d != (Distribution{}) {
		t.Errorf("distribution(nil) = %+v", d)
	}
}
