package c2s

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/parley-im/parley/stanza"
)

const (
	fuzzHeader = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='i' from='localhost'>"
	fuzzOpen   = "<open xmlns='" + NSFraming + "' version='1.0' id='i' from='localhost'/>"
	fuzzClose  = "<close xmlns='" + NSFraming + "'/>"
)

// FuzzWebSocketFromStream checks the splitter the WebSocket transport
// writes through. For any bytes: no panic; cutting the input anywhere and
// feeding the rest back changes nothing; every message that is not
// <open/> or <close/> is, less the namespace declaration it was given, a
// piece of the input, in order; and what is left over is the input's
// tail. For a stream body encoding/xml accepts within XMPP's subset (no
// comments, processing instructions, DTDs or CDATA), encoding/xml is the
// oracle: one message per top-level element, each exactly that element's
// bytes, and parsed alone it reads as it did in the stream (names,
// namespaces, attributes, text).
func FuzzWebSocketFromStream(f *testing.F) {
	for _, s := range []string{
		`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>`,
		`<message to='a@localhost' title='x > y &apos;q&apos;'><body>a &lt; b &gt; c</body><x xmlns='urn:test'><y/></x></message>`,
		`<a xmlns='urn:xmpp:sm:3' h='1'/><presence/>`,
		`<message title=" xmlns='x'"><body/></message>`,
		"<iq\txmlns='urn:x' type='get'/>",
		`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
		`<p:q xmlns:p='urn:p'><p:r/></p:q> text <s a="'"/>`,
	} {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, body []byte, cut uint16) {
		in := append([]byte(fuzzHeader), body...)
		in = append(in, "</stream:stream>"...)
		for _, data := range [][]byte{body, in} {
			msgs, rest := WebSocketFromStream(data)
			checkCut(t, data, int(cut)%(len(data)+1), msgs, rest)
			checkPieces(t, data, msgs, rest)
			for _, m := range msgs {
				checkBack(t, m)
			}
		}
		want, ok := oracleElements(in)
		if !ok {
			return
		}
		msgs, rest := WebSocketFromStream(in)
		if len(rest) != 0 {
			t.Fatalf("a well-formed stream leaves %q over", rest)
		}
		if len(msgs) != len(want)+2 || string(msgs[0]) != fuzzOpen || string(msgs[len(msgs)-1]) != fuzzClose {
			t.Fatalf("%d top-level elements, messages:\n%s", len(want), joinMsgs(msgs))
		}
		for i, w := range want {
			m := msgs[i+1]
			if got := undeclared(m); !bytes.Equal(got, w.raw) {
				t.Fatalf("message %d\n got %s\nwant %s", i, got, w.raw)
			}
			alone, err := xmlTokens(m)
			if err != nil && strings.Contains(err.Error(), "twice") {
				// A repeated attribute: not well-formed XML (XML 1.0
				// §3.1), which encoding/xml, the oracle, does not check.
				return
			}
			if err != nil {
				t.Fatalf("message %d %s does not parse on its own: %v", i, m, err)
			}
			if name := m[1:max(1, bytes.IndexAny(m, " />"))]; alone != w.tokens && bytes.ContainsRune(name, ':') {
				// A prefixed top-level element (stream:…) read alone has
				// no stream header to bind its prefix: not comparable.
				continue
			}
			if alone != w.tokens {
				t.Fatalf("message %d %s reads differently on its own:\n got %s\nwant %s", i, m, alone, w.tokens)
			}
		}
	})
}

// checkCut: splitting the input at cut, and feeding what is left over
// back with the rest, gives the same messages and the same remainder.
func checkCut(t *testing.T, data []byte, cut int, msgs [][]byte, rest []byte) {
	t.Helper()
	first, r := WebSocketFromStream(bytes.Clone(data[:cut]))
	more, r := WebSocketFromStream(append(bytes.Clone(r), data[cut:]...))
	got := append(first, more...)
	if joinMsgs(got) != joinMsgs(msgs) || !bytes.Equal(r, rest) {
		t.Fatalf("cut at %d of %q:\n%s\nleft %q; whole:\n%s\nleft %q", cut, data, joinMsgs(got), r, joinMsgs(msgs), rest)
	}
}

// checkPieces: each element message, less the declaration added to it,
// is the input's next piece; between them only text, <?…?>, the stream
// header (an <open/>) and the closing tag (a <close/>) are skipped; what
// is left over is the input's tail.
func checkPieces(t *testing.T, data []byte, msgs [][]byte, rest []byte) {
	t.Helper()
	if !bytes.HasSuffix(data, rest) {
		t.Fatalf("left over %q is not the end of %q", rest, data)
	}
	end := len(data) - len(rest)
	at := 0
	for i, m := range msgs {
		// An element is the next piece of the input; <open/> and <close/>
		// may also stand for a header or closing tag (the earlier wins).
		piece := undeclared(m)
		found, n := bytes.Index(data[at:end], piece), len(piece)
		var tag string
		switch s := string(m); {
		case s == fuzzClose:
			tag = "</stream:stream"
		case strings.HasPrefix(s, "<open xmlns='"+NSFraming+"'"):
			tag = "<stream:stream"
		}
		if j := bytes.Index(data[at:end], []byte(tag)); tag != "" && j >= 0 && (found < 0 || j < found) {
			found, n = j, 1
		}
		if found < 0 {
			t.Fatalf("message %d %q is not in %q", i, m, data[at:end])
		}
		at += found + n
	}
}

// checkBack: the other direction takes each message back to TCP framing:
// an element as it is, <open/> to a header that comes out as the same
// <open/>, <close/> to the closing tag.
func checkBack(t *testing.T, m []byte) {
	t.Helper()
	back := StreamFromWebSocket(m)
	switch s := string(m); {
	case s == fuzzClose:
		if string(back) != "</stream:stream>" {
			t.Fatalf("%s back is %s", m, back)
		}
	case strings.HasPrefix(s, "<open xmlns='"+NSFraming+"'"):
		again, rest := WebSocketFromStream(back)
		if len(again) != 1 || !bytes.Equal(again[0], m) || len(rest) != 0 {
			t.Fatalf("%s back is %s, which splits into\n%s\nleft %q", m, back, joinMsgs(again), rest)
		}
	}
}

// undeclared is an element message less the namespace declaration
// declared added after its name, if it added one.
func undeclared(m []byte) []byte {
	client := " xmlns='" + stanza.NSClient + "'"
	for _, decl := range []string{nsStreamDecl + client, nsStreamDecl, client} {
		name := 1
		for name < len(m) && !isSpace(m[name]) && m[name] != '>' && m[name] != '/' {
			name++
		}
		if bytes.HasPrefix(m[name:], []byte(decl)) {
			out := append(bytes.Clone(m[:name]), m[name+len(decl):]...)
			if bytes.Equal(declared(out), m) {
				return out
			}
		}
	}
	return m
}

// oracleElement is a top-level element as encoding/xml read it in the
// stream: its bytes and its tokens.
type oracleElement struct {
	raw    []byte
	tokens string
}

// oracleElements returns the stream's top-level elements, or false if
// encoding/xml rejects the stream or it steps out of what XMPP allows
// (RFC 6120 §11.1), where the splitter promises nothing.
func oracleElements(in []byte) ([]oracleElement, bool) {
	body := in[len(fuzzHeader) : len(in)-len("</stream:stream>")]
	if bytes.Contains(body, []byte("<!")) || bytes.Contains(body, []byte("<?")) || bytes.Contains(body, []byte("stream:stream")) {
		return nil, false
	}
	d := xml.NewDecoder(bytes.NewReader(in))
	var out []oracleElement
	var cur strings.Builder
	depth, start := 0, 0
	for {
		before := int(d.InputOffset())
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, depth == 0
		}
		if err != nil {
			return nil, false
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				start = before
				cur.Reset()
			}
		case xml.EndElement:
			depth--
		case xml.ProcInst, xml.Comment, xml.Directive:
			return nil, false
		}
		if depth >= 2 || depth == 1 && isEnd(tok) {
			writeToken(&cur, tok)
		}
		if depth == 1 && isEnd(tok) {
			out = append(out, oracleElement{raw: in[start:d.InputOffset()], tokens: cur.String()})
		}
	}
}

func isEnd(tok xml.Token) bool { _, ok := tok.(xml.EndElement); return ok }

// xmlTokens is how encoding/xml reads one element on its own.
func xmlTokens(b []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var sb strings.Builder
	depth, tops := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				tops++
			}
			depth++
			seen := map[xml.Name]bool{}
			for _, a := range tok.Attr {
				if seen[a.Name] {
					return "", fmt.Errorf("attribute %s twice", a.Name.Local)
				}
				seen[a.Name] = true
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 {
				return "", errors.New("text outside the element")
			}
		default:
			return "", fmt.Errorf("unexpected %T", tok)
		}
		writeToken(&sb, tok)
	}
	if tops != 1 {
		return "", fmt.Errorf("%d top-level elements", tops)
	}
	return sb.String(), nil
}

// writeToken writes what a token means, leaving out namespace
// declarations (the splitter adds some; the names they resolve stay).
func writeToken(sb *strings.Builder, tok xml.Token) {
	switch tok := tok.(type) {
	case xml.StartElement:
		fmt.Fprintf(sb, "<{%s}%s", tok.Name.Space, tok.Name.Local)
		for _, a := range tok.Attr {
			if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
				continue
			}
			fmt.Fprintf(sb, " {%s}%s=%q", a.Name.Space, a.Name.Local, a.Value)
		}
		sb.WriteString(">")
	case xml.EndElement:
		fmt.Fprintf(sb, "</{%s}%s>", tok.Name.Space, tok.Name.Local)
	case xml.CharData:
		fmt.Fprintf(sb, "%q", tok)
	}
}
