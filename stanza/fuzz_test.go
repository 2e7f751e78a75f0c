package stanza

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// fuzzLimits are small, so that the fuzzer reaches them.
var fuzzLimits = Limits{MaxStanzaBytes: 1024, MaxDepth: 16, MaxAttrs: 16}

// FuzzParser checks the parser against encoding/xml: what the parser
// returns, encoding/xml must return too, and what encoding/xml accepts
// within XMPP's subset of XML, the parser must accept. It also checks
// that reading byte by byte changes nothing.
func FuzzParser(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		h, items, err := parseAll(bytes.NewReader(data), fuzzLimits)
		h1, items1, err1 := parseAll(iotest.OneByteReader(bytes.NewReader(data)), fuzzLimits)
		if errString(err) != errString(err1) || dumpOrNil(h) != dumpOrNil(h1) || join(items) != join(items1) {
			t.Fatalf("reading byte by byte changes the result:\n%s %q %v\n%s %q %v",
				dumpOrNil(h), dumps(items), err, dumpOrNil(h1), dumps(items1), err1)
		}
		var se *StreamError
		if err != io.EOF && err != io.ErrUnexpectedEOF && err != ErrStreamClosed && !errors.As(err, &se) {
			t.Fatalf("unexpected error %v", err)
		}
		compareWithOracle(t, runOracle(data, fuzzLimits), h, items, err)
	})
}

func compareWithOracle(t *testing.T, o *oracle, h *Element, items []*Element, err error) {
	t.Helper()
	// What we return, encoding/xml returns.
	if h != nil {
		if o.header == nil {
			if o.nameErr {
				return
			}
			t.Fatalf("header %s accepted; encoding/xml: %v", dump(h), o.err)
		}
		if got, want := lossy(h), lossy(o.header); got != want {
			t.Fatalf("header\n got %s\nwant %s", got, want)
		}
	}
	for i, e := range items {
		if i >= len(o.items) {
			if o.nameErr {
				return
			}
			t.Fatalf("item %d %s accepted; encoding/xml: %v", i, dump(e), o.err)
		}
		if got, want := lossy(e), lossy(o.items[i]); got != want {
			t.Fatalf("item %d\n got %s\nwant %s", i, got, want)
		}
	}
	if err == ErrStreamClosed && (!o.closed || len(o.items) != len(items)) {
		t.Fatalf("stream closed after %d items; encoding/xml: %d items, %v", len(items), len(o.items), o.err)
	}
	// What encoding/xml accepts within the subset, we accept.
	if o.header == nil || !o.headerClean {
		return
	}
	if h == nil {
		t.Fatalf("header %s rejected: %v", dump(o.header), err)
	}
	for i, e := range o.items {
		if !o.clean[i] {
			return
		}
		if i >= len(items) {
			t.Fatalf("item %d %s rejected: %v", i, dump(e), err)
		}
	}
	if o.closed && o.tailClean && err != ErrStreamClosed {
		t.Fatalf("stream close not seen: %v", err)
	}
}

// lossy dumps a tree with white space in attribute values turned into
// spaces: encoding/xml does not normalize attribute values.
func lossy(e *Element) string { return dump(spacedAttrs(e)) }

// spacedAttrs applies XML's attribute-value normalization, which
// encoding/xml skips, to attribute values and to namespace URIs (they are
// xmlns attribute values).
func spacedAttrs(e *Element) *Element {
	c := &Element{Name: e.Name, Space: spaced(e.Space)}
	for _, a := range e.Attrs {
		c.Attrs = append(c.Attrs, Attr{a.Name, spaced(a.Value)})
	}
	for _, n := range e.Nodes {
		if n.Elem != nil {
			n.Elem = spacedAttrs(n.Elem)
		}
		c.Nodes = append(c.Nodes, n)
	}
	return c
}

func spaced(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func join(items []*Element) string { return strings.Join(dumps(items), "\n") }

// FuzzRoundTrip checks that what the parser accepts is written back by
// AppendXML and StreamHeader as XML that parses to the same elements.
func FuzzRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRoundTrip(t, data)
	})
}

// TestOracle runs the fuzz comparison on the table tests, and checks that
// the oracle finds the good streams within the subset, so that the fuzz
// target does compare something.
func TestOracle(t *testing.T) {
	for _, tt := range goodStreams {
		t.Run(tt.name, func(t *testing.T) {
			o := runOracle([]byte(tt.in), Limits{})
			if !o.headerClean || len(o.items) != len(tt.items) {
				t.Fatalf("oracle: header clean %v, %d items, %v", o.headerClean, len(o.items), o.err)
			}
			for i, c := range o.clean {
				if !c {
					t.Errorf("oracle: item %d not clean", i)
				}
			}
			h, items, err := parseAll(strings.NewReader(tt.in), Limits{})
			compareWithOracle(t, o, h, items, err)
		})
	}
	for _, tt := range badStreams {
		t.Run(tt.name, func(t *testing.T) {
			h, items, err := parseAll(strings.NewReader(tt.in), tt.lim)
			compareWithOracle(t, runOracle([]byte(tt.in), tt.lim), h, items, err)
		})
	}
}
