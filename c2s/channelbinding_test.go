package c2s_test

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
	"github.com/xdg-go/scram"
)

const nsSASLCB = "urn:xmpp:sasl-cb:0"

func tlsUpTo(v uint16) *tls.Config {
	c := insecure()
	c.MaxVersion = v
	return c
}

// TestChannelBindingOffer: what a stream offers after STARTTLS or direct
// TLS, per TLS version (docs/authentication.md).
func TestChannelBindingOffer(t *testing.T) {
	s := testserver.Start(t)
	plus := []string{xmppclient.ScramSHA256Plus, xmppclient.ScramSHA1Plus}
	cases := []struct {
		name      string
		version   uint16
		directTLS bool
		want      []string
	}{
		{"TLS 1.3", tls.VersionTLS13, false, []string{"tls-exporter", "tls-server-end-point"}},
		{"TLS 1.2", tls.VersionTLS12, false, []string{"tls-unique", "tls-server-end-point"}},
		{"direct TLS 1.3", tls.VersionTLS13, true, []string{"tls-exporter", "tls-server-end-point"}},
		{"direct TLS 1.2", tls.VersionTLS12, true, []string{"tls-unique", "tls-server-end-point"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := xmppclient.Config{Addr: s.C2S(), TLS: tlsUpTo(tc.version), StartTLS: !tc.directTLS, DirectTLS: tc.directTLS, StopAfter: xmppclient.StageTLS}
			if tc.directTLS {
				cfg.Addr, cfg.StopAfter = s.DirectTLS(), xmppclient.StageFeatures
			}
			c, err := dial(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var types, mechs []string
			if cb := c.Features().Child("sasl-channel-binding", nsSASLCB); cb != nil {
				for _, e := range cb.Elements() {
					types = append(types, e.Attr("type"))
				}
			}
			for _, m := range c.Features().Child("mechanisms", stanza.NSSASL).Elements() {
				mechs = append(mechs, m.Text())
			}
			if !slices.Equal(types, tc.want) {
				t.Errorf("channel-binding types %v, want %v", types, tc.want)
			}
			if !slices.Equal(mechs[:2], plus) {
				t.Errorf("mechanisms %v, want %v first", mechs, plus)
			}
		})
	}
}

// TestLoginPlusPerTLSVersion: -PLUS logins with the types our client
// knows, where the stream offers them (tls-unique: the slixmpp interop
// test and package sasl's).
func TestLoginPlusPerTLSVersion(t *testing.T) {
	s := testserver.Start(t)
	s.AddUser("alice@localhost", pw)
	cases := []struct {
		version uint16
		cb      string
	}{
		{tls.VersionTLS13, xmppclient.TLSExporter},
		{tls.VersionTLS13, xmppclient.TLSServerEndpoint},
		{tls.VersionTLS12, xmppclient.TLSServerEndpoint},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s over TLS 1.%d", tc.cb, tc.version-tls.VersionTLS10), func(t *testing.T) {
			for _, mech := range []string{xmppclient.ScramSHA256Plus, xmppclient.ScramSHA1Plus} {
				_, err := dial(t, xmppclient.Config{Addr: s.C2S(), Username: "alice", StartTLS: true, TLS: tlsUpTo(tc.version), Mechanism: mech, ChannelBinding: tc.cb})
				if err != nil {
					t.Fatalf("%s: %v", mech, err)
				}
			}
		})
	}
}

// scramRaw runs one SCRAM exchange by hand on c, with the library's
// client conversation cc (any GS2 flag), and returns the server's last
// element: <success/> or <failure/>.
func scramRaw(t *testing.T, c *xmppclient.Client, mech string, cc *scram.ClientConversation) *stanza.Element {
	t.Helper()
	first, err := cc.Step("")
	if err != nil {
		t.Fatal(err)
	}
	auth := stanza.New("auth", stanza.NSSASL, "mechanism", mech).SetText(base64.StdEncoding.EncodeToString([]byte(first)))
	if err := c.Send(auth); err != nil {
		t.Fatal(err)
	}
	for {
		el, err := c.Next()
		if err != nil {
			t.Fatalf("during %s: %v", mech, err)
		}
		if el.Name != "challenge" {
			if el.Name == "success" {
				data, _ := base64.StdEncoding.DecodeString(el.Text())
				if _, err := cc.Step(string(data)); err != nil || !cc.Valid() {
					t.Fatalf("the server's proof: %v", err)
				}
			}
			return el
		}
		data, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			t.Fatal(err)
		}
		out, err := cc.Step(string(data))
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if err := c.Send(stanza.New("response", stanza.NSSASL).SetText(base64.StdEncoding.EncodeToString([]byte(out)))); err != nil {
			t.Fatal(err)
		}
	}
}

func saslCondition(el *stanza.Element) string {
	if el.Name != "failure" {
		return "<" + el.Name + "/>"
	}
	return el.FirstElement().Name
}

func scramClient(t *testing.T, h scram.HashGeneratorFcn, password string) *scram.Client {
	cl, err := h.NewClient("alice", password, "")
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestChannelBindingDowngrade: the gs2 flag "y" where the stream offered
// -PLUS is refused (RFC 5802 §6), not-authorized and counted as a failed
// authentication; it is accepted after the client has shown, with a valid
// proof, that its only binding type is one the stream lacks: what
// slixmpp 1.8.3 does over TLS 1.3 with tls-unique.
func TestChannelBindingDowngrade(t *testing.T) {
	s := testserver.Start(t)
	s.AddUser("alice@localhost", pw)
	open := func(t *testing.T) *xmppclient.Client {
		c, err := dial(t, xmppclient.Config{Addr: s.C2S(), StartTLS: true, TLS: tlsUpTo(tls.VersionTLS13), StopAfter: xmppclient.StageTLS})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tlsUnique := func(cl *scram.Client) *scram.ClientConversation {
		// Python's ssl computes a "tls-unique" for TLS 1.3, which it does
		// not have (RFC 9266); we cannot check it either way.
		return cl.NewConversationWithChannelBinding(scram.ChannelBinding{Type: scram.ChannelBindingTLSUnique, Data: []byte("finished message")})
	}

	t.Run("forged y", func(t *testing.T) {
		c := open(t)
		el := scramRaw(t, c, xmppclient.ScramSHA256, scramClient(t, scram.SHA256, pw).NewConversationAdvertisingChannelBinding())
		if got := saslCondition(el); got != "not-authorized" {
			t.Fatalf("y after -PLUS was offered: %s, want not-authorized", got)
		}
		if text := el.Child("text", stanza.NSSASL); text == nil || text.Text() == "" {
			t.Error("the failure does not say why")
		}
		// Counted: two more failures end the stream.
		for range 2 {
			scramRaw(t, c, xmppclient.ScramSHA1, scramClient(t, scram.SHA1, pw).NewConversationAdvertisingChannelBinding())
		}
		_, err := c.Next()
		assertStreamError(t, err, stanza.StreamPolicyViolation)
	})

	t.Run("no common binding, then y", func(t *testing.T) {
		c := open(t)
		el := scramRaw(t, c, xmppclient.ScramSHA256Plus, tlsUnique(scramClient(t, scram.SHA256, pw)))
		if got := saslCondition(el); got != "malformed-request" {
			t.Fatalf("tls-unique over TLS 1.3: %s, want malformed-request", got)
		}
		// Shown once is enough: the next -PLUS attempt fails at once.
		el = scramRaw(t, c, xmppclient.ScramSHA1Plus, tlsUnique(scramClient(t, scram.SHA1, pw)))
		if got := saslCondition(el); got != "malformed-request" {
			t.Fatalf("tls-unique again: %s, want malformed-request", got)
		}
		el = scramRaw(t, c, xmppclient.ScramSHA256, scramClient(t, scram.SHA256, pw).NewConversationAdvertisingChannelBinding())
		if el.Name != "success" {
			t.Fatalf("y after the client showed it cannot bind here: %s, want <success/>", saslCondition(el))
		}
	})

	t.Run("no common binding needs the password", func(t *testing.T) {
		c := open(t)
		el := scramRaw(t, c, xmppclient.ScramSHA256Plus, tlsUnique(scramClient(t, scram.SHA256, "wrong")))
		if got := saslCondition(el); got != "not-authorized" {
			t.Fatalf("tls-unique with a wrong password: %s, want not-authorized", got)
		}
		el = scramRaw(t, c, xmppclient.ScramSHA256, scramClient(t, scram.SHA256, pw).NewConversationAdvertisingChannelBinding())
		if got := saslCondition(el); got != "not-authorized" {
			t.Fatalf("y after a failed proof: %s, want not-authorized", got)
		}
	})

	t.Run("y without TLS", func(t *testing.T) {
		s := testserver.Start(t, testserver.PlainTCP)
		s.AddUser("alice@localhost", pw)
		c, err := dial(t, xmppclient.Config{Addr: s.C2S(), StopAfter: xmppclient.StageFeatures})
		if err != nil {
			t.Fatal(err)
		}
		el := scramRaw(t, c, xmppclient.ScramSHA256, scramClient(t, scram.SHA256, pw).NewConversationAdvertisingChannelBinding())
		if el.Name != "success" {
			t.Fatalf("y on a stream without -PLUS: %s, want <success/>", saslCondition(el))
		}
	})
}
