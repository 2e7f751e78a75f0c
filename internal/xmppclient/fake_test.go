package xmppclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/stanza"
	"github.com/xdg-go/scram"
)

// fakeServer is just enough of an XMPP server to exercise the client:
// STARTTLS, SCRAM and PLAIN against one account, binding, and a handler
// for stanzas after that. It is not a model of Parley's behaviour.
type fakeServer struct {
	t      *testing.T
	ln     net.Listener
	tls    *tls.Config
	direct bool
	user   string
	pass   string
	iters  int
	// badServerKey makes SCRAM sign with the wrong key, as an impostor
	// holding only the StoredKey would.
	badServerKey bool
	// handle is called for each stanza after binding; nil echoes.
	handle func(fc *fakeConn, el *stanza.Element)

	wg sync.WaitGroup
}

type fakeConn struct {
	s      *fakeServer
	nc     net.Conn
	p      *stanza.Parser
	authed bool
	secure bool
	conv   *scram.ServerConversation
	mu     sync.Mutex
}

func newFakeServer(t *testing.T, configure func(*fakeServer)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, user: "alice", pass: "secret", iters: 4096}
	if configure != nil {
		configure(s)
	}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer nc.Close()
			if s.direct {
				tc := tls.Server(nc, s.tls)
				if tc.Handshake() != nil {
					return
				}
				nc = tc
			}
			fc := &fakeConn{s: s, nc: nc, secure: s.direct}
			fc.p = stanza.NewParser(nc, stanza.Limits{})
			fc.serve()
		}()
	}
}

func (fc *fakeConn) send(b []byte) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	_, _ = fc.nc.Write(b)
}

func (fc *fakeConn) sendEl(el *stanza.Element) { fc.send(el.AppendXML(nil, stanza.NSClient)) }

func (fc *fakeConn) serve() {
	for {
		el, header, err := fc.p.Next()
		var se *stanza.StreamError
		switch {
		case errors.Is(err, stanza.ErrStreamClosed):
			fc.send([]byte(stanza.StreamEnd))
			return
		case errors.As(err, &se):
			fc.send(append(se.Element().AppendXML(nil, stanza.NSClient), stanza.StreamEnd...))
			return
		case err != nil:
			return
		case header:
			fc.openStream(el)
			continue
		}
		if !fc.handle(el) {
			return
		}
	}
}

func (fc *fakeConn) openStream(h *stanza.Element) {
	b := stanza.StreamHeader(nil, stanza.NSClient, stanza.Attr{Name: "from", Value: h.Attr("to")},
		stanza.Attr{Name: "id", Value: "s1"}, stanza.Attr{Name: "version", Value: "1.0"})
	if h.Attr("to") != "example.org" {
		se := stanza.NewStreamError(stanza.HostUnknown, "not here")
		fc.send(append(append(b, se.Element().AppendXML(nil, stanza.NSClient)...), stanza.StreamEnd...))
		return
	}
	f := stanza.New("features", stanza.NSStream)
	switch {
	case fc.s.tls != nil && !fc.secure:
		f.Append(stanza.New("starttls", stanza.NSTLS))
	case !fc.authed:
		m := stanza.New("mechanisms", stanza.NSSASL)
		for _, n := range []string{ScramSHA256Plus, ScramSHA256, ScramSHA1, Plain} {
			m.Append(stanza.New("mechanism", stanza.NSSASL).SetText(n))
		}
		f.Append(m)
	default:
		f.Append(stanza.New("bind", stanza.NSBind))
	}
	fc.send(f.AppendXML(b, stanza.NSClient))
}

// handle answers one element; false ends the connection.
func (fc *fakeConn) handle(el *stanza.Element) bool {
	switch {
	case el.Is("starttls", stanza.NSTLS):
		fc.send([]byte("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
		tc := tls.Server(fc.nc, fc.s.tls)
		if tc.Handshake() != nil {
			return false
		}
		fc.nc, fc.secure = tc, true
		fc.p.Reset(tc)
	case el.Space == stanza.NSSASL:
		fc.sasl(el)
	case el.Name == "iq" && el.Child("bind", stanza.NSBind) != nil:
		res := "r1"
		if r := el.Child("bind", "").Child("resource", ""); r != nil {
			res = r.Text()
		}
		fc.sendEl(stanza.Result(el, stanza.New("bind", stanza.NSBind).Append(
			stanza.New("jid", stanza.NSBind).SetText(fc.s.user+"@example.org/"+res))))
	case fc.s.handle != nil:
		fc.s.handle(fc, el)
	default:
		fc.sendEl(el)
	}
	return true
}

func (fc *fakeConn) sasl(el *stanza.Element) {
	fail := func(cond string) {
		fc.sendEl(stanza.New("failure", stanza.NSSASL).Append(stanza.New(cond, stanza.NSSASL)))
		fc.conv = nil
	}
	in, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(el.Text(), "="))
	if el.Name == "auth" {
		mech := el.Attr("mechanism")
		switch mech {
		case Plain:
			if string(in) != "\x00"+fc.s.user+"\x00"+fc.s.pass {
				fail("not-authorized")
				return
			}
			fc.success(nil)
			return
		case ScramSHA256, ScramSHA1, ScramSHA256Plus:
		default:
			fail("invalid-mechanism")
			return
		}
		h := scram.SHA256
		if mech == ScramSHA1 {
			h = scram.SHA1
		}
		srv, _ := h.NewServer(func(user string) (scram.StoredCredentials, error) {
			if user != fc.s.user {
				return scram.StoredCredentials{}, errors.New("no such user")
			}
			cl, _ := h.NewClient(user, fc.s.pass, "")
			sc, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "NaCl", Iters: fc.s.iters})
			if err != nil {
				return scram.StoredCredentials{}, err
			}
			if fc.s.badServerKey {
				sc.ServerKey = append([]byte(nil), sc.StoredKey...)
			}
			return sc, nil
		})
		fc.conv = srv.NewConversation()
		if mech == ScramSHA256Plus {
			st := fc.nc.(*tls.Conn).ConnectionState()
			cb, _ := scram.NewTLSExporterBinding(&st)
			fc.conv = srv.NewConversationWithChannelBindingRequired(cb)
		}
	} else if fc.conv == nil {
		fail("malformed-request")
		return
	}
	out, err := fc.conv.Step(string(in))
	switch {
	case err != nil:
		fail("not-authorized")
	case fc.conv.Done():
		fc.success([]byte(out))
	default:
		fc.send([]byte("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(out)) + "</challenge>"))
	}
}

func (fc *fakeConn) success(data []byte) {
	fc.authed, fc.conv = true, nil
	fc.send([]byte("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(data) + "</success>"))
	fc.p.Reset(nil)
}

// testTLS returns a server config with a fresh self-signed certificate for
// example.org and a client config trusting it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		DNSNames:     []string{"example.org"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}
