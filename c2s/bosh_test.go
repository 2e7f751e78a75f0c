package c2s_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/stanza"
)

const nsHTTPBind = "http://jabber.org/protocol/httpbind"

// boshPost sends one request and returns the response's <body/>.
func boshPost(t *testing.T, url, body string) *stanza.Element {
	t.Helper()
	resp, err := http.Post(url, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	el, err := stanza.ParseBytes(b)
	if err != nil {
		t.Fatalf("response %q: %v", b, err)
	}
	return el
}

// Over BOSH the stream takes the elements parsed with their <body/>; the
// stream's limits apply to them as the stream's parser applies them to
// TCP, and a restart is taken only where one belongs (after SASL).
func TestBOSHElements(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP, func(c *config.Config) { c.Limits.MaxDepth = 4; c.Limits.MaxAttrs = 8; c.Limits.MaxStanzaBytes = 1024 })
	url := "http://" + s.HTTP() + "/http-bind"
	create := func() string {
		t.Helper()
		b := boshPost(t, url, "<body xmlns='"+nsHTTPBind+"' xmlns:xmpp='urn:xmpp:xbosh' rid='1' to='localhost' wait='5' hold='1' xmpp:version='1.0'/>")
		if b.Attr("sid") == "" || b.Child("features", stanza.NSStream) == nil {
			t.Fatalf("creation: %v", b)
		}
		return b.Attr("sid")
	}
	for _, tc := range []struct{ name, attrs, content, condition string }{
		{"too deep", "", "<iq type='get' id='1'><a xmlns='urn:x'><b><c><d/></c></b></a></iq>", "policy-violation"},
		{"too many attributes", "", "<message a='1' b='2' c='3' d='4' e='5' f='6' g='7' h='8'/>", "policy-violation"},
		{"too large", "", "<message><body>" + strings.Repeat("x", 1100) + "</body></message>", "policy-violation"},
		{"restart before SASL", " xmpp:restart='true'", "", "bad-format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sid := create()
			b := boshPost(t, url, "<body xmlns='"+nsHTTPBind+"' xmlns:xmpp='urn:xmpp:xbosh' rid='2' sid='"+sid+"'"+tc.attrs+">"+tc.content+"</body>")
			e := b.Child("error", stanza.NSStream)
			if b.Type() != "terminate" || e == nil || e.ChildNS(stanza.NSStreams) == nil || e.ChildNS(stanza.NSStreams).Name != tc.condition {
				t.Errorf("got %v, want the stream ended with %s", b, tc.condition)
			}
		})
	}
	t.Run("within limits", func(t *testing.T) {
		sid := create()
		// Pre-authentication, an IQ that is not registration ends the
		// stream with not-authorized: the element reached the stream.
		b := boshPost(t, url, "<body xmlns='"+nsHTTPBind+"' rid='2' sid='"+sid+"'><iq xmlns='jabber:client' type='get' id='1'><a xmlns='urn:x'><b><c/></b></a></iq></body>")
		e := b.Child("error", stanza.NSStream)
		if e == nil || e.ChildNS(stanza.NSStreams) == nil || e.ChildNS(stanza.NSStreams).Name != "not-authorized" {
			t.Errorf("got %v, want not-authorized", b)
		}
	})
}
