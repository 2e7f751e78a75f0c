package stanza

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const (
	clientHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`
	headerDump   = `<{http://etherx.jabber.org/streams}stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="example.com" version="1.0"></>`
)

// dump renders a tree compactly and unambiguously for comparisons:
// <{space}name attr="value">"text"<child></></>.
func dump(e *Element) string {
	var b strings.Builder
	dumpTo(&b, e)
	return b.String()
}

func dumpTo(b *strings.Builder, e *Element) {
	fmt.Fprintf(b, "<{%s}%s", e.Space, e.Name)
	for _, a := range e.Attrs {
		fmt.Fprintf(b, " %s=%q", a.Name, a.Value)
	}
	b.WriteString(">")
	for _, n := range e.Nodes {
		if n.Elem != nil {
			dumpTo(b, n.Elem)
		} else {
			fmt.Fprintf(b, "%q", n.Text)
		}
	}
	b.WriteString("</>")
}

// parseAll reads a whole stream: the header, the items, and the error
// that ended it.
func parseAll(r io.Reader, lim Limits) (header *Element, items []*Element, err error) {
	p := NewParser(r, lim)
	for {
		el, isHeader, err := p.Next()
		switch {
		case err != nil:
			return header, items, err
		case isHeader:
			header = el
		default:
			items = append(items, el)
		}
	}
}

func dumps(els []*Element) []string {
	out := make([]string, len(els))
	for i, e := range els {
		out[i] = dump(e)
	}
	return out
}

var goodStreams = []struct {
	name   string
	in     string
	header string // dump; headerDump when empty
	items  []string
}{
	{
		name:   "client stream opening",
		in:     `<?xml version='1.0'?>` + clientHeader,
		header: headerDump,
	},
	{
		name: "message with body",
		in:   clientHeader + `<message to='juliet@example.com' type='chat'><body>Wherefore art thou?</body></message>`,
		items: []string{
			`<{jabber:client}message to="juliet@example.com" type="chat"><{jabber:client}body>"Wherefore art thou?"</></>`,
		},
	},
	{
		name: "nested default namespaces",
		in:   clientHeader + `<iq type='get' id='r1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>`,
		items: []string{
			`<{jabber:client}iq type="get" id="r1"><{jabber:iq:roster}query><{jabber:iq:roster}item jid="a@b"></></></>`,
		},
	},
	{
		name: "prefixes",
		in:   clientHeader + `<message><x:foo xmlns:x='urn:x' x:attr='1' plain='2'><bar/><x:baz/></x:foo></message>`,
		items: []string{
			`<{jabber:client}message><{urn:x}foo xmlns:x="urn:x" x:attr="1" plain="2"><{jabber:client}bar></><{urn:x}baz></></></>`,
		},
	},
	{
		name: "prefix declared after use in the same tag",
		in:   clientHeader + `<x:a x:b='1' xmlns:x='urn:x'/>`,
		items: []string{
			`<{urn:x}a x:b="1" xmlns:x="urn:x"></>`,
		},
	},
	{
		name: "undeclaring the default namespace",
		in:   clientHeader + `<message><a xmlns=''><b/></a><c/></message>`,
		items: []string{
			`<{jabber:client}message><{}a><{}b></></><{jabber:client}c></></>`,
		},
	},
	{
		name: "xml prefix",
		in:   clientHeader + `<message xml:lang='en'><body xml:lang='fr' xmlns:xml='http://www.w3.org/XML/1998/namespace'>Salut</body></message>`,
		items: []string{
			`<{jabber:client}message xml:lang="en"><{jabber:client}body xml:lang="fr" xmlns:xml="http://www.w3.org/XML/1998/namespace">"Salut"</></>`,
		},
	},
	{
		name: "mixed content",
		in:   clientHeader + `<body>one<b>two</b>three<i/>four</body>`,
		items: []string{
			`<{jabber:client}body>"one"<{jabber:client}b>"two"</>"three"<{jabber:client}i></>"four"</>`,
		},
	},
	{
		name: "CDATA merged with text",
		in:   clientHeader + `<body>a<![CDATA[<b>&amp;]]]]>&lt;<![CDATA[]]>c</body>`,
		items: []string{
			`<{jabber:client}body>"a<b>&amp;]]<c"</>`,
		},
	},
	{
		name: "references",
		in:   clientHeader + `<body a='&lt;&gt;&amp;&quot;&apos;"' b="'">&#65;&#x42;&#x1F600;&#xe9;&lt;&gt;&amp;&quot;&apos;</body>`,
		items: []string{
			`<{jabber:client}body a="<>&\"'\"" b="'">"AB😀é<>&\"'"</>`,
		},
	},
	{
		name: "line ends and attribute white space",
		in:   clientHeader + "<body a='x\ty\r\nz\rw&#10;&#9;&#13;'>1\r\n2\r3\n4&#13;</body>",
		items: []string{
			`<{jabber:client}body a="x y z w\n\t\r">"1\n2\n3\n4\r"</>`,
		},
	},
	{
		name: "keepalives and close",
		in:   clientHeader + " \n\t\r\n<a/>  \n<b/> \n </stream:stream> trailing junk is not read",
		items: []string{
			`<{jabber:client}a></>`,
			`<{jabber:client}b></>`,
		},
	},
	{
		name: "prefixes declared on the stream header",
		in: `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>` +
			`<db:result from='a.example' to='b.example'>key</db:result>`,
		header: `<{http://etherx.jabber.org/streams}stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams" xmlns:db="jabber:server:dialback"></>`,
		items: []string{
			`<{jabber:server:dialback}result from="a.example" to="b.example">"key"</>`,
		},
	},
	{
		name: "stream features",
		in: clientHeader + `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>` +
			`<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
		items: []string{
			`<{http://etherx.jabber.org/streams}features><{urn:ietf:params:xml:ns:xmpp-tls}starttls><{urn:ietf:params:xml:ns:xmpp-tls}required></></><{urn:ietf:params:xml:ns:xmpp-sasl}mechanisms><{urn:ietf:params:xml:ns:xmpp-sasl}mechanism>"PLAIN"</></></>`,
		},
	},
	{
		name:   "self-closing header",
		in:     `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>`,
		header: `<{http://etherx.jabber.org/streams}stream xmlns:stream="http://etherx.jabber.org/streams"></>`,
	},
	{
		name:   "byte order mark and full declaration",
		in:     "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\" standalone='yes' ?>\n" + clientHeader + "<a/>",
		header: headerDump,
		items:  []string{`<{jabber:client}a></>`},
	},
	{
		name:  "non-ASCII names and text",
		in:    clientHeader + `<ü xmlns:é='urn:é' é:ñ='ö'>日本語 ﬁ</ü>`,
		items: []string{`<{jabber:client}ü xmlns:é="urn:é" é:ñ="ö">"日本語 ﬁ"</>`},
	},
	{
		name:  "white space inside tags",
		in:    clientHeader + "<a\n b = 'c'\t d\n=\"e\" ></a \n><f\n/>",
		items: []string{`<{jabber:client}a b="c" d="e"></>`, `<{jabber:client}f></>`},
	},
	{
		name:   "other stream prefix",
		in:     `<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client'><s:features/><a/></s:stream>`,
		header: `<{http://etherx.jabber.org/streams}stream xmlns:s="http://etherx.jabber.org/streams" xmlns="jabber:client"></>`,
		items:  []string{`<{http://etherx.jabber.org/streams}features></>`, `<{jabber:client}a></>`},
	},
	{
		name:   "streams namespace as default",
		in:     `<stream xmlns='http://etherx.jabber.org/streams'><features/></stream>`,
		header: `<{http://etherx.jabber.org/streams}stream xmlns="http://etherx.jabber.org/streams"></>`,
		items:  []string{`<{http://etherx.jabber.org/streams}features></>`},
	},
	{
		name:  "brackets",
		in:    clientHeader + `<a b=']]>'>]] ]>]&#93;]>]]<![CDATA[]]>></a>`,
		items: []string{`<{jabber:client}a b="]]>">"]] ]>]]]>]]>"</>`},
	},
	{
		name:  "empty text, empty attribute",
		in:    clientHeader + `<a b=''><![CDATA[]]></a>`,
		items: []string{`<{jabber:client}a b=""></>`},
	},
}

func TestParseGood(t *testing.T) {
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":     func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	}
	for _, tt := range goodStreams {
		for rname, reader := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				h, items, err := parseAll(reader(tt.in), Limits{})
				if err != io.EOF && err != ErrStreamClosed {
					t.Fatalf("error %v", err)
				}
				want := tt.header
				if want == "" {
					want = headerDump
				}
				if h == nil || dump(h) != want {
					t.Errorf("header\n got %s\nwant %s", dumpOrNil(h), want)
				}
				got := dumps(items)
				if strings.Join(got, "\n") != strings.Join(tt.items, "\n") {
					t.Errorf("items\n got %q\nwant %q", got, tt.items)
				}
			})
		}
	}
}

func dumpOrNil(e *Element) string {
	if e == nil {
		return "<nil>"
	}
	return dump(e)
}

func TestParsedSlicesDoNotOverlap(t *testing.T) {
	_, items, err := parseAll(strings.NewReader(clientHeader+`<a x='1'><b y='2'>t</b><c z='3'/></a>`), Limits{})
	if len(items) != 1 {
		t.Fatal(err)
	}
	a := items[0]
	b := a.FirstElement()
	a.Attrs = append(a.Attrs, Attr{"new", "v"})
	a.Nodes = append(a.Nodes, Node{Text: "more"})
	b.Nodes = append(b.Nodes, Node{Text: "more"})
	if got := dump(items[0]); got != `<{jabber:client}a x="1" new="v"><{jabber:client}b y="2">"t""more"</><{jabber:client}c z="3"></>"more"</>` {
		t.Errorf("got %s", got)
	}
}
