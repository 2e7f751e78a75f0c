package stanza

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

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
