package stanza

import (
	"encoding/xml"
	"strings"
	"testing"
)

// benchMessage is a typical chat message: a body, a chat state, a receipt
// request and a stanza id.
const benchMessage = `<message from='juliet@capulet.example/balcony' id='ktx72v49' to='romeo@montague.example' type='chat' xml:lang='en'>` +
	`<body>Art thou not Romeo, and a Montague? Neither, fair saint, if either thee dislike.</body>` +
	`<active xmlns='http://jabber.org/protocol/chatstates'/>` +
	`<request xmlns='urn:xmpp:receipts'/>` +
	`<origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/>` +
	`</message>`

// repeater is a stream that repeats one stanza forever after its header.
type repeater struct {
	header, stanza []byte
	off            int
}

func (r *repeater) Read(b []byte) (int, error) {
	if r.header != nil {
		n := copy(b, r.header)
		if r.header = r.header[n:]; len(r.header) == 0 {
			r.header = nil
		}
		return n, nil
	}
	total := 0
	for len(b) > 0 {
		n := copy(b, r.stanza[r.off:])
		r.off = (r.off + n) % len(r.stanza)
		b = b[n:]
		total += n
	}
	return total, nil
}

func newRepeater() *repeater {
	return &repeater{header: []byte(clientHeader), stanza: []byte(benchMessage + "\n")}
}

func BenchmarkParseMessage(b *testing.B) {
	p := NewParser(newRepeater(), Limits{})
	if _, _, err := p.Next(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodingXMLParseMessage builds the same tree with encoding/xml,
// for comparison.
func BenchmarkEncodingXMLParseMessage(b *testing.B) {
	d := xml.NewDecoder(newRepeater())
	if _, err := d.Token(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeElement(d); err != nil {
			b.Fatal(err)
		}
	}
}

// decodeElement reads the next top-level element with encoding/xml.
func decodeElement(d *xml.Decoder) (*Element, error) {
	var stack []*Element
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &Element{Name: t.Name.Local, Space: t.Name.Space}
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				name := a.Name.Local
				if a.Name.Space != "" {
					name = a.Name.Space + ":" + name
				}
				e.Attrs = append(e.Attrs, Attr{Name: name, Value: a.Value})
			}
			if len(stack) > 0 {
				stack[len(stack)-1].Append(e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			e := stack[len(stack)-1]
			if stack = stack[:len(stack)-1]; len(stack) == 0 {
				return e, nil
			}
		case xml.CharData:
			if len(stack) > 0 {
				e := stack[len(stack)-1]
				e.Nodes = append(e.Nodes, Node{Text: string(t)})
			}
		}
	}
}

func BenchmarkAppendXML(b *testing.B) {
	_, items, err := parseAll(strings.NewReader(clientHeader+benchMessage), Limits{})
	if len(items) == 0 {
		b.Fatal(err)
	}
	buf := items[0].AppendXML(nil, NSClient)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = items[0].AppendXML(buf[:0], NSClient)
	}
}
