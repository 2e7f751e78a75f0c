package directory

import "testing"

func TestNodeMessageRoundTrip(t *testing.T) {
	for _, m := range []nodeMsg{
		{Op: "deliver", To: "bob@example.com/b", XML: "<message to='bob@example.com/b'><body>a &amp; b &lt; c</body></message>"},
		{Op: "fanout", To: "bob@example.com", XML: "<presence/>"},
		{Op: "close", To: "bob@example.com/b", Meta: "conflict", Text: "replaced"},
		{Op: "deliver", To: "", XML: ""},
	} {
		got, err := decodeNode(m.encode())
		if err != nil || got != m {
			t.Errorf("round trip of %+v: got %+v, %v", m, got, err)
		}
	}
	if _, err := decodeNode([]byte("deliver\x00only-two")); err == nil {
		t.Error("a truncated message was accepted")
	}
}
