package directory

import (
	"slices"
	"testing"
)

// An outbox gives up the stanzas for one full JID, from what it has not
// published and from its unacknowledged batches, in order; the rest stays,
// and the batches keep their numbers.
func TestOutboxTake(t *testing.T) {
	d := &Directory{name: "n1", run: "r1"}
	o := newOutbox(d, "n2")
	batch := func(recs ...[3]string) []byte {
		var b []byte
		for _, r := range recs {
			b = appendRecord(b, r[0], r[1], "", "", []byte(r[2]), nil)
		}
		return b
	}
	o.unacked = []sentBatch{
		{seq: 1, data: frameBatch("n1", o.stream, "", 1, batch([3]string{opDeliver, "a@x/p", "<m1/>"}, [3]string{opDeliver, "b@x/p", "<b1/>"}))},
		{seq: 2, data: frameBatch("n1", o.stream, "", 2, batch([3]string{opFanout, "a@x", "<pres/>"}, [3]string{opDeliver, "a@x/p", "<m2/>"}))},
	}
	for _, u := range o.unacked {
		o.unackedN += len(u.data)
	}
	o.buf = batch([3]string{opDeliver, "a@x/p", "<m3/>"}, [3]string{opClose, "a@x/p", ""}, [3]string{opDeliver, "a@x/q", "<q1/>"})

	var got []string
	for _, b := range o.take("a@x/p") {
		got = append(got, string(b))
	}
	if want := []string{"<m1/>", "<m2/>", "<m3/>"}; !slices.Equal(got, want) {
		t.Fatalf("took %q, want %q", got, want)
	}
	left := func(b []byte) []string {
		var out []string
		if err := records(b, func(m record) { out = append(out, m.op+" "+m.to+" "+string(m.xml)) }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	n := 0
	for i, want := range [][]string{{"deliver b@x/p <b1/>"}, {"fanout a@x <pres/>"}} {
		h, recs, ok := unframe(o.unacked[i].data)
		if !ok || h.meta != []string{"1", "2"}[i] || h.to != o.stream {
			t.Fatalf("batch %d lost its header: %+v", i+1, h)
		}
		if got := left(recs); !slices.Equal(got, want) {
			t.Errorf("batch %d keeps %q, want %q", i+1, got, want)
		}
		n += len(o.unacked[i].data)
	}
	if o.unackedN != n {
		t.Errorf("unackedN = %d, want %d", o.unackedN, n)
	}
	if got, want := left(o.buf), []string{"close a@x/p ", "deliver a@x/q <q1/>"}; !slices.Equal(got, want) {
		t.Errorf("unpublished keeps %q, want %q", got, want)
	}
	if len(o.take("a@x/p")) != 0 {
		t.Error("took the same stanzas twice")
	}
}
