package c2s_test

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const starttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"

// sendStartTLS opens a stream to addr and writes <starttls/> with after
// behind it in the same write, as a client pipelining bytes would. It
// returns the client, whose connection is still plain TCP, and the
// server's answer.
func sendStartTLS(t *testing.T, addr, after string) (*xmppclient.Client, *stanza.Element, error) {
	t.Helper()
	c, err := dial(t, xmppclient.Config{Addr: addr, StopAfter: xmppclient.StageFeatures})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendRaw([]byte(starttls + after)); err != nil {
		t.Fatal(err)
	}
	el, err := c.Next()
	return c, el, err
}

// onConn is a dialer that hands out one connection already made.
type onConn struct{ nc net.Conn }

func (d onConn) DialContext(context.Context, string, string) (net.Conn, error) { return d.nc, nil }

// TestStartTLSWhitespace: white space after <starttls/>, whether the
// server has it buffered when it handles the command or it arrives after
// <proceed/>, ahead of the ClientHello, is skipped, and the client logs in
// over the TLS it then sets up.
func TestStartTLSWhitespace(t *testing.T) {
	s := testserver.Start(t)
	s.AddUser("alice@localhost", pw)
	cases := []struct {
		name         string
		pipelined    string // in the write of <starttls/>
		afterProceed string // written after <proceed/> arrived, before the handshake
	}{
		{"newline pipelined", "\n", ""},
		{"white space pipelined", " \r\n\t \n", ""},
		{"newline after proceed", "", "\n"},
		{"both", "\r\n", " \n\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, el, err := sendStartTLS(t, s.C2S(), tc.pipelined)
			if err != nil {
				t.Fatalf("answer to <starttls/>: %v", err)
			}
			if !el.Is("proceed", stanza.NSTLS) {
				t.Fatalf("answer to <starttls/>: <%s/>, want <proceed/>", el.Name)
			}
			nc := raw.Conn()
			if tc.afterProceed != "" {
				if _, err := nc.Write([]byte(tc.afterProceed)); err != nil {
					t.Fatal(err)
				}
			}
			tc := tls.Client(nc, insecure())
			if err := tc.HandshakeContext(ctx(t)); err != nil {
				t.Fatalf("TLS handshake: %v", err)
			}
			// Channel binding shows the session is the one the server sees.
			c, err := dial(t, xmppclient.Config{Addr: s.C2S(), Dialer: onConn{tc}, Username: "alice", Resource: "r",
				Mechanism: xmppclient.ScramSHA256Plus, ChannelBinding: xmppclient.TLSExporter})
			if err != nil {
				t.Fatalf("login over TLS: %v", err)
			}
			if got := c.JID().String(); got != "alice@localhost/r" {
				t.Fatalf("bound %q", got)
			}
			if _, err := c.Request(ctx(t), stanza.New("iq", stanza.NSClient, "type", "get").Append(stanza.New("ping", "urn:xmpp:ping"))); err != nil {
				t.Fatalf("ping: %v", err)
			}
		})
	}
}

// TestStartTLSInjection: anything but white space pipelined after
// <starttls/> ends the stream with <policy-violation/>, not a TLS
// handshake that would take it as sent inside TLS.
func TestStartTLSInjection(t *testing.T) {
	s := testserver.Start(t)
	for name, after := range map[string]string{
		"stanza":                  "<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>",
		"white space then stanza": "\n <presence/>",
		"stanza then white space": "<presence/>\n",
		"stream header":           "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
		"one byte":                "x",
	} {
		t.Run(name, func(t *testing.T) {
			_, el, err := sendStartTLS(t, s.C2S(), after)
			if err == nil {
				t.Fatalf("answer <%s/>, want a stream error", el.Name)
			}
			assertStreamError(t, err, stanza.StreamPolicyViolation)
		})
	}
}
