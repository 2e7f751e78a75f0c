package stanza

import (
	"io"
	"strings"
	"testing"
)

// TestRelease parses a stream while releasing buffers between every
// element, with the input arriving in small pieces, and checks nothing is
// lost or changed.
func TestRelease(t *testing.T) {
	input := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>" +
		"<message to='a@b'><body>one</body></message> " +
		"<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>" +
		"<message to='a@b'><body>" + strings.Repeat("x", 9000) + "</body></message>" +
		"<presence/></stream:stream>"
	p := NewParser(&chunky{s: input, n: 7}, Limits{})
	if p.Release() {
		t.Fatal("released before the stream header")
	}
	var got []string
	for {
		el, header, err := p.Next()
		if err == ErrStreamClosed {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !header {
			got = append(got, el.Name+":"+el.Text()+childText(el))
		}
		p.Release()
	}
	want := []string{"message:one", "iq:", "message:" + strings.Repeat("x", 9000), "presence:"}
	if len(got) != len(want) {
		t.Fatalf("got %d elements, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("element %d: got %.40q, want %.40q", i, got[i], want[i])
		}
	}
}

func childText(el *Element) string {
	if b := el.Child("body", ""); b != nil {
		return b.Text()
	}
	return ""
}

// chunky returns its input n bytes at a time.
type chunky struct {
	s string
	n int
}

func (c *chunky) Read(b []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	k := min(len(b), c.n, len(c.s))
	copy(b, c.s[:k])
	c.s = c.s[k:]
	return k, nil
}

// pieces returns one string per Read.
type pieces []string

func (p *pieces) Read(b []byte) (int, error) {
	if len(*p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, (*p)[0])
	(*p)[0] = (*p)[0][n:]
	if (*p)[0] == "" {
		*p = (*p)[1:]
	}
	return n, nil
}

func TestYieldOnIdle(t *testing.T) {
	in := pieces{
		"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
		"<message/>",
		"  \n ",
		" ",
		"<presence/>",
	}
	p := NewParser(&in, Limits{})
	p.YieldOnIdle(true)
	var got []string
	for range 10 {
		el, header, err := p.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		switch {
		case header:
			got = append(got, "header")
		case el == nil:
			got = append(got, "idle")
			if !p.Release() {
				t.Fatal("could not release after yielding")
			}
		default:
			got = append(got, el.Name)
		}
	}
	want := "header message idle idle presence"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
}
