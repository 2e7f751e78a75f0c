package stanza

import (
	"io"
	"strings"
	"testing"
)

func TestAppendXML(t *testing.T) {
	msg := New("message", NSClient, "to", "juliet@example.com", "type", "chat").Append(
		New("body", NSClient).SetText("hi"),
		New("active", "http://jabber.org/protocol/chatstates"),
	)
	for _, tt := range []struct {
		name   string
		el     *Element
		parent string
		want   string
	}{
		{"namespace differs from parent", msg, "",
			`<message xmlns='jabber:client' to='juliet@example.com' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`},
		{"namespace inherited", msg, NSClient,
			`<message to='juliet@example.com' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`},
		{"no namespace inside a namespace", New("a", NSClient).Append(New("b", "")), NSClient,
			`<a><b xmlns=''/></a>`},
		{"stream prefix", New("features", NSStream).Append(New("bind", NSBind), New("x", NSClient)), NSClient,
			`<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><x/></stream:features>`},
		{"stream error", NewStreamError(NotWellFormed, "bad <xml>").Element(), NSClient,
			`<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>bad &lt;xml&gt;</text></stream:error>`},
		{"stream prefix rebound", New("a", NSClient, "xmlns:stream", "urn:other").Append(New("b", NSStream).Append(New("c", NSClient))), NSClient,
			`<a xmlns:stream='urn:other'><b xmlns='http://etherx.jabber.org/streams'><c xmlns='jabber:client'/></b></a>`},
		{"stream prefix rebound on itself", New("b", NSStream, "xmlns:stream", "urn:other"), NSClient,
			`<b xmlns='http://etherx.jabber.org/streams' xmlns:stream='urn:other'/>`},
		{"xmlns attribute ignored", New("a", "urn:a", "xmlns", "urn:wrong", "b", "1"), "",
			`<a xmlns='urn:a' b='1'/>`},
		{"text escapes", New("a", "").SetText(`a & b < c > d "e" 'f' ]]>` + "\t\n\r"), "",
			`<a>a &amp; b &lt; c &gt; d "e" 'f' ]]&gt;` + "\t\n&#xD;</a>"},
		{"attribute escapes", New("a", "", "b", "a&b<c>d\"e'f\tg\nh\ri"), "",
			`<a b='a&amp;b&lt;c>d"e&apos;f&#x9;g&#xA;h&#xD;i'/>`},
		{"characters XML cannot carry", New("a", "", "b", "x\x00y").SetText("\x01\xff\uFFFE\uFFFFok\U0001F600"), "",
			"<a b='x\uFFFDy'>\uFFFD\uFFFD\uFFFD\uFFFDok\U0001F600</a>"},
		{"mixed content", &Element{Name: "a", Nodes: []Node{{Text: "x"}, {Elem: New("b", "")}, {Text: "y"}}}, "",
			`<a>x<b/>y</a>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.el.AppendXML([]byte("prefix:"), tt.parent)); got != "prefix:"+tt.want {
				t.Errorf("\n got %s\nwant prefix:%s", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	got := New("iq", NSClient, "type", "result", "id", "1").String()
	if want := `<iq xmlns='jabber:client' type='result' id='1'/>`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestStreamHeader(t *testing.T) {
	got := string(StreamHeader(nil, NSClient,
		Attr{"xmlns", "ignored"}, Attr{"xmlns:stream", "ignored"},
		Attr{"from", "example.com"}, Attr{"id", "a'b"}, Attr{"version", "1.0"}, Attr{"xml:lang", "en"}))
	want := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='a&apos;b' version='1.0' xml:lang='en'>`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	h, _, err := parseAll(strings.NewReader(got+StreamEnd), Limits{})
	if err != ErrStreamClosed || h.Attr("id") != "a'b" || h.Attr("xmlns") != NSClient {
		t.Errorf("parsed back %v, %v", h, err)
	}
}

func TestAppendXMLDoesNotAllocate(t *testing.T) {
	_, items, _ := parseAll(strings.NewReader(clientHeader+benchMessage), Limits{})
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = items[0].AppendXML(buf[:0], NSClient) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// reserialize parses a stream and writes it back: the header through
// StreamHeader, each element through AppendXML.
func reserialize(in io.Reader, lim Limits) (out []byte, items []*Element, err error) {
	h, items, err := parseAll(in, lim)
	if h == nil {
		return nil, nil, err
	}
	space := h.Attr("xmlns")
	out = StreamHeader(nil, space, h.Attrs...)
	for _, e := range items {
		out = e.AppendXML(out, space)
	}
	return append(out, StreamEnd...), items, err
}

// checkRoundTrip checks that what reserialize writes parses back to the
// same elements and is written again byte for byte.
func checkRoundTrip(t *testing.T, in []byte) {
	t.Helper()
	out, items, _ := reserialize(strings.NewReader(string(in)), Limits{})
	if out == nil {
		return
	}
	// Writing may add an xmlns attribute to an element.
	lim := Limits{MaxStanzaBytes: 1 << 30, MaxAttrs: DefaultMaxAttrs + 1}
	out2, items2, err := reserialize(strings.NewReader(string(out)), lim)
	if err != ErrStreamClosed {
		t.Fatalf("reparsing %q: %v", out, err)
	}
	if got, want := strings.Join(dumps(items2), "\n"), strings.Join(dumps(items), "\n"); got != want {
		t.Fatalf("round trip through %q\n got %s\nwant %s", out, got, want)
	}
	if string(out2) != string(out) {
		t.Fatalf("second serialization differs\n got %q\nwant %q", out2, out)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range goodStreams {
		t.Run(tt.name, func(t *testing.T) { checkRoundTrip(t, []byte(tt.in)) })
	}
}

func TestRoundTripEdgeCases(t *testing.T) {
	for _, in := range []string{
		// The stream prefix bound to another namespace, on the header or
		// inside a stanza.
		`<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns:stream='urn:o' xmlns='jabber:client'><stream:a stream:b='1'/><s:c/></s:stream>`,
		clientHeader + `<a xmlns:stream='urn:o'><b xmlns='http://etherx.jabber.org/streams'><stream:c/><d/></b><stream:e/></a>`,
		// Prefixes declared on the header and used by attributes.
		`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'><db:verify db:x='1' id='2'/>`,
		// Characters a parser would normalize.
		clientHeader + "<a b='&#9;&#10;&#13; '>&#13;\r\n&#xD;&#10;</a>",
		// No namespace at all.
		`<stream xmlns='http://etherx.jabber.org/streams'><a xmlns=''><b/></a><c/></stream>`,
	} {
		checkRoundTrip(t, []byte(in))
	}
}
