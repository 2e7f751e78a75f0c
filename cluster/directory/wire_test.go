package directory

import (
	"bytes"
	"testing"

	"github.com/parley-im/parley/stanza"
)

func TestRecordsRoundTrip(t *testing.T) {
	el := stanza.New("message", stanza.NSClient, "to", "bob@example.com/b").
		Append(stanza.New("body", stanza.NSClient).SetText("a & b < c"))
	want := []record{
		{op: opDeliver, to: "bob@example.com/b", meta: "5", xml: el.AppendXML(nil, stanza.NSClient)},
		{op: opFanout, to: "bob@example.com", xml: []byte("<presence/>")},
		{op: opClose, to: "bob@example.com/b", meta: "conflict", text: "replaced", xml: []byte("1700000000000000000")},
		{op: opDeliver},
	}
	var b []byte
	b = appendRecord(b, want[0].op, want[0].to, want[0].meta, "", nil, el)
	for _, r := range want[1:] {
		b = appendRecord(b, r.op, r.to, r.meta, r.text, r.xml, nil)
	}
	var got []record
	if err := records(b, func(r record) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.op != w.op || g.to != w.to || g.meta != w.meta || g.text != w.text || !bytes.Equal(g.xml, w.xml) {
			t.Errorf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestRecordsMalformed(t *testing.T) {
	good := appendRecord(nil, opDeliver, "a@b/c", "", "", []byte("<message/>"), nil)
	for name, b := range map[string][]byte{
		"short length":        good[:3],
		"length past the end": good[:len(good)-1],
		"too few fields":      appendLen([]byte("deliver\x00only-two")),
	} {
		if err := records(b, func(record) {}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// appendLen frames raw record bytes with their length.
func appendLen(rec []byte) []byte {
	b := []byte{0, 0, 0, byte(len(rec))}
	return append(b, rec...)
}

// A batch is cut at record boundaries below maxBatch.
func TestBatchesCutAtRecords(t *testing.T) {
	var b []byte
	xml := bytes.Repeat([]byte("x"), 1000)
	for range 1000 {
		b = appendRecord(b, opDeliver, "a@b/c", "", "", xml, nil)
	}
	var sizes []int
	n := 0
	for rest := b; len(rest) > 0; {
		cut := cutBatch(rest)
		sizes = append(sizes, cut)
		if err := records(rest[:cut], func(record) { n++ }); err != nil {
			t.Fatal(err)
		}
		rest = rest[cut:]
	}
	if n != 1000 {
		t.Fatalf("%d records across the batches, want 1000", n)
	}
	for _, s := range sizes {
		if s > maxBatch {
			t.Fatalf("a batch of %d bytes, over %d", s, maxBatch)
		}
	}
	if len(sizes) < 2 {
		t.Fatalf("one batch of %d bytes: not cut", sizes[0])
	}
}
