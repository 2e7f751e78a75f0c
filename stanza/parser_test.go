package stanza

import (
	"errors"
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

const stream = `http://etherx.jabber.org/streams`

var badStreams = []struct {
	name string
	in   string
	lim  Limits
	want StreamCondition
	text string // substring of the error text, when set
}{
	// not-well-formed
	{"mismatched end tag", clientHeader + `<a><b></a></b>`, Limits{}, NotWellFormed, ""},
	{"end tag longer", clientHeader + `<a></ab>`, Limits{}, NotWellFormed, ""},
	{"end tag shorter", clientHeader + `<ab></a>`, Limits{}, NotWellFormed, ""},
	{"end tag other prefix", clientHeader + `<x:a xmlns:x='u' xmlns:y='u'></y:a>`, Limits{}, NotWellFormed, ""},
	{"wrong stream close", clientHeader + `</stream:streams>`, Limits{}, NotWellFormed, ""},
	{"unquoted attribute", clientHeader + `<a b=c/>`, Limits{}, NotWellFormed, ""},
	{"attribute without value", clientHeader + `<a b/>`, Limits{}, NotWellFormed, ""},
	{"attributes not separated", clientHeader + `<a b='1'c='2'/>`, Limits{}, NotWellFormed, ""},
	{"lt in attribute", clientHeader + `<a b='<'/>`, Limits{}, NotWellFormed, ""},
	{"bare ampersand", clientHeader + `<a>fish & chips</a>`, Limits{}, NotWellFormed, ""},
	{"reference without semicolon", clientHeader + `<a>&amp</a>`, Limits{}, NotWellFormed, ""},
	{"bad hex reference", clientHeader + `<a>&#xZZ;</a>`, Limits{}, NotWellFormed, ""},
	{"empty reference", clientHeader + `<a>&#;</a>`, Limits{}, NotWellFormed, ""},
	{"reference to NUL", clientHeader + `<a>&#0;</a>`, Limits{}, NotWellFormed, ""},
	{"reference to surrogate", clientHeader + `<a>&#xD800;</a>`, Limits{}, NotWellFormed, ""},
	{"reference too large", clientHeader + `<a>&#x110000;</a>`, Limits{}, NotWellFormed, ""},
	{"huge reference", clientHeader + `<a>&#99999999999999999999999;</a>`, Limits{}, NotWellFormed, ""},
	{"invalid UTF-8 in text", clientHeader + "<a>\xff</a>", Limits{}, NotWellFormed, "UTF-8"},
	{"truncated UTF-8 in text", clientHeader + "<a>\xc3</a>", Limits{}, NotWellFormed, "UTF-8"},
	{"surrogate in UTF-8", clientHeader + "<a>\xed\xa0\x80</a>", Limits{}, NotWellFormed, "UTF-8"},
	{"invalid UTF-8 in attribute", clientHeader + "<a b='\xc0\x80'/>", Limits{}, NotWellFormed, "UTF-8"},
	{"invalid UTF-8 in name", clientHeader + "<a\xff/>", Limits{}, NotWellFormed, ""},
	{"control character", clientHeader + "<a>\x01</a>", Limits{}, NotWellFormed, ""},
	{"NUL in attribute", clientHeader + "<a b='\x00'/>", Limits{}, NotWellFormed, ""},
	{"U+FFFE", clientHeader + "<a>\uFFFE</a>", Limits{}, NotWellFormed, ""},
	{"duplicate attribute", clientHeader + `<a b='1' b='2'/>`, Limits{}, NotWellFormed, "duplicate"},
	{"duplicate default namespace", clientHeader + `<a xmlns='x' xmlns='y'/>`, Limits{}, NotWellFormed, "duplicate"},
	{"duplicate after resolution", clientHeader + `<a xmlns:x='u' xmlns:y='u' x:b='1' y:b='2'/>`, Limits{}, NotWellFormed, "duplicate"},
	{"name starts with digit", clientHeader + `<1a/>`, Limits{}, NotWellFormed, ""},
	{"two colons", clientHeader + `<a:b:c xmlns:a='u'/>`, Limits{}, NotWellFormed, ""},
	{"leading colon", clientHeader + `<:a/>`, Limits{}, NotWellFormed, ""},
	{"trailing colon", clientHeader + `<a: />`, Limits{}, NotWellFormed, ""},
	{"local part starts with digit", clientHeader + `<a:1 xmlns:a='u'/>`, Limits{}, NotWellFormed, ""},
	{"space after lt", clientHeader + `< a/>`, Limits{}, NotWellFormed, ""},
	{"slash not followed by gt", clientHeader + `<a/ >`, Limits{}, NotWellFormed, ""},
	{"]]> in text", clientHeader + `<a>]]></a>`, Limits{}, NotWellFormed, "]]>"},
	{"text before header", `hello` + clientHeader, Limits{}, NotWellFormed, ""},
	{"end tag before header", `</stream:stream>`, Limits{}, NotWellFormed, ""},
	{"XML 1.1", `<?xml version='1.1'?>` + clientHeader, Limits{}, NotWellFormed, "1.0"},
	{"declaration without version", `<?xml encoding='UTF-8'?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"declaration attributes out of order", `<?xml encoding='UTF-8' version='1.0'?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"declaration with junk", `<?xml version='1.0' junk?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"bad standalone", `<?xml version='1.0' standalone='maybe'?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"bad <! markup", clientHeader + `<a><!-x></a>`, Limits{}, NotWellFormed, ""},
	{"bad CDATA opening", clientHeader + `<a><![CDAT[x]]></a>`, Limits{}, NotWellFormed, ""},
	{"reserved namespace declared", clientHeader + `<a xmlns:x='http://www.w3.org/2000/xmlns/'/>`, Limits{}, NotWellFormed, ""},

	// restricted-xml
	{"DTD before header", `<?xml version='1.0'?><!DOCTYPE stream>` + clientHeader, Limits{}, RestrictedXML, "DTD"},
	{"DTD in stanza", clientHeader + `<a><!DOCTYPE a></a>`, Limits{}, RestrictedXML, "DTD"},
	{"comment before header", `<!-- hi -->` + clientHeader, Limits{}, RestrictedXML, "comment"},
	{"comment between stanzas", clientHeader + `<!-- hi --><a/>`, Limits{}, RestrictedXML, "comment"},
	{"comment in stanza", clientHeader + `<a><!-- hi --></a>`, Limits{}, RestrictedXML, "comment"},
	{"processing instruction before header", `<?php echo 1 ?>` + clientHeader, Limits{}, RestrictedXML, "processing"},
	{"processing instruction in stanza", clientHeader + `<a><?pi x?></a>`, Limits{}, RestrictedXML, "processing"},
	{"processing instruction between stanzas", clientHeader + `<?pi x?>`, Limits{}, RestrictedXML, "processing"},
	{"XML declaration not first", ` <?xml version='1.0'?>` + clientHeader, Limits{}, RestrictedXML, ""},
	{"XML declaration twice", `<?xml version='1.0'?><?xml version='1.0'?>` + clientHeader, Limits{}, RestrictedXML, ""},
	{"entity in text", clientHeader + `<a>&nbsp;</a>`, Limits{}, RestrictedXML, "entity"},
	{"entity in attribute", clientHeader + `<a b='&foo;'/>`, Limits{}, RestrictedXML, "entity"},

	// policy-violation
	{"stanza too large", clientHeader + `<message><body>` + strings.Repeat("x", 200) + `</body></message>`, Limits{MaxStanzaBytes: 100}, StreamPolicyViolation, "100"},
	{"header too large", `<stream:stream xmlns:stream='` + stream + `' a='` + strings.Repeat("x", 200) + `'>`, Limits{MaxStanzaBytes: 100}, StreamPolicyViolation, "100"},
	{"too deep", clientHeader + strings.Repeat("<a>", 5), Limits{MaxDepth: 4}, StreamPolicyViolation, "4"},
	{"too many attributes", clientHeader + `<a b='1' c='2' d='3'/>`, Limits{MaxAttrs: 2}, StreamPolicyViolation, "2"},
	{"too many attributes counting declarations", clientHeader + `<a xmlns='x' xmlns:y='z' d='3'/>`, Limits{MaxAttrs: 2}, StreamPolicyViolation, "2"},

	// bad-namespace-prefix
	{"undeclared element prefix", clientHeader + `<x:a/>`, Limits{}, BadNamespacePrefix, ""},
	{"undeclared attribute prefix", clientHeader + `<a x:b='1'/>`, Limits{}, BadNamespacePrefix, ""},
	{"prefix out of scope", clientHeader + `<a><b xmlns:x='u'/><x:c/></a>`, Limits{}, BadNamespacePrefix, ""},
	{"header without stream prefix", `<stream:stream xmlns='jabber:client'>`, Limits{}, BadNamespacePrefix, ""},
	{"xmlns as element prefix", clientHeader + `<xmlns:a/>`, Limits{}, BadNamespacePrefix, ""},
	{"declaring xmlns", clientHeader + `<a xmlns:xmlns='u'/>`, Limits{}, BadNamespacePrefix, ""},
	{"rebinding xml", clientHeader + `<a xmlns:xml='u'/>`, Limits{}, BadNamespacePrefix, ""},
	{"undeclaring a prefix", clientHeader + `<a xmlns:x=''/>`, Limits{}, BadNamespacePrefix, ""},

	// invalid-namespace
	{"wrong streams namespace", `<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>`, Limits{}, InvalidNamespace, ""},
	{"header in no namespace", `<stream>`, Limits{}, InvalidNamespace, ""},

	// bad-format
	{"text between stanzas", clientHeader + `<a/>hello<b/>`, Limits{}, BadFormat, ""},
	{"reference between stanzas", clientHeader + `&#32;<b/>`, Limits{}, BadFormat, ""},
	{"CDATA between stanzas", clientHeader + `<![CDATA[ ]]><b/>`, Limits{}, BadFormat, ""},
	{"header not named stream", `<stream:features xmlns:stream='` + stream + `'>`, Limits{}, BadFormat, ""},

	// unsupported-encoding
	{"declared encoding", `<?xml version='1.0' encoding='ISO-8859-1'?>` + clientHeader, Limits{}, UnsupportedEncoding, ""},
	{"UTF-16 byte order mark", "\xFE\xFF\x00<", Limits{}, UnsupportedEncoding, ""},
	{"UTF-16LE byte order mark", "\xFF\xFE<\x00", Limits{}, UnsupportedEncoding, ""},
}

func TestParseBad(t *testing.T) {
	for _, tt := range badStreams {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				_, _, err := parseAll(r, tt.lim)
				var se *StreamError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want stream error %s", err, tt.want)
				}
				if se.Condition != tt.want || !strings.Contains(se.Text, tt.text) {
					t.Fatalf("got %v, want %s (%q)", se, tt.want, tt.text)
				}
			}
		})
	}
}

func TestParseEOF(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want error
	}{
		{"nothing", "", io.EOF},
		{"after header", clientHeader, io.EOF},
		{"after stanza and space", clientHeader + "<a/>\n ", io.EOF},
		{"in header", `<stream:stream xmlns:stream='`, io.ErrUnexpectedEOF},
		{"in declaration", `<?xml version`, io.ErrUnexpectedEOF},
		{"in stanza", clientHeader + "<a><b>text", io.ErrUnexpectedEOF},
		{"in end tag", clientHeader + "<a></a", io.ErrUnexpectedEOF},
		{"in reference", clientHeader + "<a>&am", io.ErrUnexpectedEOF},
		{"in CDATA", clientHeader + "<a><![CDATA[x]]", io.ErrUnexpectedEOF},
		{"in stream close", clientHeader + "</stream:str", io.ErrUnexpectedEOF},
		{"after carriage return", clientHeader + "<a>\r", io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseAll(strings.NewReader(tt.in), Limits{})
			if err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestErrorsAreFinal(t *testing.T) {
	p := NewParser(strings.NewReader(clientHeader+"<a>&x;</a><b/>"), Limits{})
	if _, _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	_, _, err1 := p.Next()
	_, _, err2 := p.Next()
	if err1 == nil || err1 != err2 {
		t.Fatalf("errors %v then %v", err1, err2)
	}
}

// stopReader fails the test if read past its data: Next must not read
// beyond the element it returns, or it could block on a quiet peer.
type stopReader struct {
	t    *testing.T
	data []string
}

func (r *stopReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		r.t.Fatal("read past the end of the element")
	}
	n := copy(b, r.data[0])
	if r.data[0] = r.data[0][n:]; r.data[0] == "" {
		r.data = r.data[1:]
	}
	return n, nil
}

func TestNextDoesNotReadAhead(t *testing.T) {
	r := &stopReader{t: t, data: []string{`<?xml version='1.0'?>`, clientHeader, "<a>x\r", "</a>", "<b/>"}}
	p := NewParser(r, Limits{})
	for range 3 {
		if _, _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSizeLimitIsExact(t *testing.T) {
	el := `<message><body>` + strings.Repeat("x", 100) + `</body></message>`
	for _, split := range []bool{false, true} {
		for _, tt := range []struct {
			max int
			ok  bool
		}{{len(el), true}, {len(el) - 1, false}} {
			var r io.Reader = strings.NewReader(clientHeader + " \n" + el + "\n ")
			if split {
				r = iotest.OneByteReader(r)
			}
			_, items, err := parseAll(r, Limits{MaxStanzaBytes: tt.max})
			if tt.ok != (len(items) == 1) {
				t.Errorf("limit %d, stanza %d bytes: items %d, error %v", tt.max, len(el), len(items), err)
			}
		}
	}
}

// endless yields an endless stanza.
type endless struct{ n int }

func (r *endless) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'x'
	}
	r.n += len(b)
	return len(b), nil
}

func TestSizeLimitWhileReading(t *testing.T) {
	for _, prefix := range []string{clientHeader + "<a>", clientHeader + "<a b='", "<stream:stream a='", clientHeader + "<a><![CDATA["} {
		r := &endless{}
		p := NewParser(io.MultiReader(strings.NewReader(prefix), r), Limits{MaxStanzaBytes: 10000})
		var err error
		for err == nil {
			_, _, err = p.Next()
		}
		var se *StreamError
		if !errors.As(err, &se) || se.Condition != StreamPolicyViolation {
			t.Errorf("%s: got %v", prefix, err)
		}
		if r.n > 10000+2*readBufferSize {
			t.Errorf("%s: read %d bytes for a limit of 10000", prefix, r.n)
		}
	}
}

func TestScratchIsReleased(t *testing.T) {
	big := `<a>` + strings.Repeat("<b>x</b>", 10000) + `</a>`
	p := NewParser(strings.NewReader(clientHeader+big+"<c/>"), Limits{})
	for range 2 {
		if _, _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if cap(p.sc.arena) > 8<<10 || cap(p.sc.els) > 256 {
		t.Errorf("scratch kept after a large stanza: arena %d, elements %d", cap(p.sc.arena), cap(p.sc.els))
	}
}

func TestResetSameReaderKeepsBufferedInput(t *testing.T) {
	in := clientHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` +
		`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><iq/>`
	r := strings.NewReader(in)
	p := NewParser(r, Limits{})
	for range 2 {
		if _, _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
	p.Reset(r)
	if _, header, err := p.Next(); err != nil || !header {
		t.Fatalf("header %v, error %v", header, err)
	}
	el, _, err := p.Next()
	if err != nil || !el.Is("iq", NSClient) {
		t.Fatalf("got %v, %v", el, err)
	}
}

func TestResetNilKeepsBufferedInput(t *testing.T) {
	in := clientHeader + `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + clientHeader + `<iq/>`
	p := NewParser(iotest.HalfReader(strings.NewReader(in)), Limits{})
	for range 2 {
		if _, _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
	p.Reset(nil)
	for range 2 {
		if _, _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResetNewReaderDropsBufferedInput(t *testing.T) {
	p := NewParser(strings.NewReader(clientHeader+`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='set'/>`), Limits{})
	for range 2 {
		if _, _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if p.Buffered() == 0 {
		t.Error("Buffered() = 0 with input pipelined after <starttls/>")
	}
	p.Reset(strings.NewReader(clientHeader + `<iq type='get'/>`))
	if p.Buffered() != 0 {
		t.Errorf("Buffered() = %d after Reset", p.Buffered())
	}
	if _, _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	el, _, err := p.Next()
	if err != nil || el.Type() != "get" {
		t.Fatalf("got %v, %v", el, err)
	}
}

func TestResetAfterError(t *testing.T) {
	p := NewParser(strings.NewReader("<junk"), Limits{})
	if _, _, err := p.Next(); err == nil {
		t.Fatal("no error")
	}
	p.Reset(strings.NewReader(clientHeader + "<a/>"))
	for range 2 {
		if _, _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
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
