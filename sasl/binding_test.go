package sasl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// session is both ends of a real TLS handshake over an in-memory pipe, so
// that channel bindings are computed as in production.
type session struct {
	server, client *tls.ConnectionState
	cert           *x509.Certificate
}

func handshake(t testing.TB, version uint16, key crypto.Signer) session {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	a, b := net.Pipe()
	srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version})
	cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true, MaxVersion: version})
	done := make(chan error, 1)
	go func() { done <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ss, cs := srv.ConnectionState(), cli.ConnectionState()
	// Closing the pipe, not the TLS conns: a close_notify over net.Pipe
	// would wait for a reader (up to crypto/tls's 5 s).
	_ = a.Close()
	_ = b.Close()
	return session{server: &ss, client: &cs, cert: leaf}
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (s session) offer() Offer { return Offer{TLS: s.server, ServerCert: s.cert} }

func TestChannelBindingsPerTLSVersion(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tls12, tls13 := handshake(t, tls.VersionTLS12, ecKey(t)), handshake(t, tls.VersionTLS13, ecKey(t))
	ed13 := handshake(t, tls.VersionTLS13, edKey)
	cases := []struct {
		name string
		o    Offer
		want []string
	}{
		{"TLS 1.3", tls13.offer(), []string{CBTLSExporter, CBTLSServerEndPt}},
		{"TLS 1.2", tls12.offer(), []string{CBTLSUnique, CBTLSServerEndPt}},
		{"TLS 1.3, Ed25519 certificate", ed13.offer(), []string{CBTLSExporter}},
		{"TLS 1.3, no certificate known", Offer{TLS: tls13.server}, []string{CBTLSExporter}},
		{"plain TCP", Offer{ServerCert: tls13.cert}, nil},
		{"TLS ended by a proxy", Offer{Secure: true, ServerCert: tls13.cert}, nil},
	}
	for _, tc := range cases {
		if got := tc.o.ChannelBindings(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: channel bindings %v, want %v", tc.name, got, tc.want)
		}
		plus := slices.Contains(tc.o.Mechanisms(), ScramSHA256Plus)
		if plus != (len(tc.want) > 0) {
			t.Errorf("%s: -PLUS offered %v with channel bindings %v", tc.name, plus, tc.want)
		}
	}
}

// TestDowngradeHash checks XEP-0474's example (§5).
func TestDowngradeHash(t *testing.T) {
	got := downgradeHash([]string{ScramSHA1Plus, ScramSHA1}, []string{CBTLSServerEndPt, CBTLSExporter}, sha1.New)
	if want := "G6k/rBLDqgOhRRaCuuatSDFkJ08="; got != want {
		t.Fatalf("h=%s, want %s", got, want)
	}
}

// clientFor is the library's client side of one exchange.
type clientFor func(c *scram.Client) *scram.ClientConversation

func withBinding(typ scram.ChannelBindingType, data []byte) clientFor {
	return func(c *scram.Client) *scram.ClientConversation {
		return c.NewConversationWithChannelBinding(scram.ChannelBinding{Type: typ, Data: data})
	}
}

func exporter(t testing.TB, st *tls.ConnectionState) []byte {
	cb, err := scram.NewTLSExporterBinding(st)
	if err != nil {
		t.Fatal(err)
	}
	return cb.Data
}

func endPoint(t testing.TB, st *tls.ConnectionState) []byte {
	cb, err := scram.NewTLSServerEndpointBinding(st)
	if err != nil {
		t.Fatal(err)
	}
	return cb.Data
}

var (
	noBinding = func(c *scram.Client) *scram.ClientConversation { return c.NewConversation() }
	// "y": the client could bind but believes the server cannot.
	bindingY = func(c *scram.Client) *scram.ClientConversation { return c.NewConversationAdvertisingChannelBinding() }
)

// run plays one exchange between the library's client and our server and
// returns the server's error and the step (1: client-first, 2:
// client-final) at which it came. The client checks the server's proof.
func run(t *testing.T, o Offer, mech, user, password, authz string, client clientFor) (int, error) {
	t.Helper()
	h := scram.SHA256
	if strings.HasPrefix(mech, ScramSHA1) {
		h = scram.SHA1
	}
	cl, err := h.NewClient(user, password, authz)
	if err != nil {
		t.Fatal(err)
	}
	cc := client(cl)
	sc, err := NewConversation(o, mech, lookupFor(account(t, "pencil")))
	if err != nil {
		t.Fatalf("%s: %v", mech, err)
	}
	msg, err := cc.Step("")
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 2; step++ {
		out, done, err := sc.Step([]byte(msg))
		if err != nil {
			return step, err
		}
		if step == 1 {
			if want := ",h=" + downgradeHash(o.Mechanisms(), o.ChannelBindings(), h); !strings.HasSuffix(string(out), want) {
				t.Errorf("server-first-message %q lacks XEP-0474's %s", out, want)
			}
		}
		if msg, err = cc.Step(string(out)); err != nil {
			t.Fatalf("client at step %d: %v", step, err)
		}
		if done {
			if !cc.Valid() {
				t.Fatal("the client did not accept the server's proof")
			}
			if sc.Username() != user {
				t.Errorf("username %q, want %q", sc.Username(), user)
			}
			return 0, nil
		}
	}
	t.Fatal("no outcome after client-final")
	return 0, nil
}

// TestScramChannelBinding: what each GS2 flag and binding gets, per
// connection (docs/authentication.md).
func TestScramChannelBinding(t *testing.T) {
	s12, s13 := handshake(t, tls.VersionTLS12, ecKey(t)), handshake(t, tls.VersionTLS13, ecKey(t))
	other := handshake(t, tls.VersionTLS13, ecKey(t)) // a MITM's session with the client
	excused := s13.offer()
	excused.NoCommonBinding = true
	fake := []byte("the client's idea of tls-unique on TLS 1.3")
	cases := []struct {
		name     string
		o        Offer
		mech     string
		password string
		authz    string
		client   clientFor
		step     int   // where it fails, 0 for success
		want     error // nil for success
	}{
		{"tls-exporter", s13.offer(), ScramSHA256Plus, "pencil", "", withBinding(scram.ChannelBindingTLSExporter, exporter(t, s13.client)), 0, nil},
		{"tls-server-end-point", s13.offer(), ScramSHA1Plus, "pencil", "", withBinding(scram.ChannelBindingTLSServerEndpoint, endPoint(t, s13.client)), 0, nil},
		{"tls-unique on TLS 1.2", s12.offer(), ScramSHA256Plus, "pencil", "", withBinding(scram.ChannelBindingTLSUnique, s12.client.TLSUnique), 0, nil},
		{"tls-server-end-point on TLS 1.2", s12.offer(), ScramSHA256Plus, "pencil", "", withBinding(scram.ChannelBindingTLSServerEndpoint, endPoint(t, s12.client)), 0, nil},
		{"tls-exporter of another session", s13.offer(), ScramSHA256Plus, "pencil", "", withBinding(scram.ChannelBindingTLSExporter, exporter(t, other.client)), 2, ErrNotAuthorized},
		{"tls-exporter on TLS 1.2", s12.offer(), ScramSHA256Plus, "pencil", "", withBinding(scram.ChannelBindingTLSExporter, fake), 2, ErrBinding},
		{"tls-unique on TLS 1.3", s13.offer(), ScramSHA256Plus, "pencil", "", withBinding(scram.ChannelBindingTLSUnique, fake), 2, ErrBinding},
		{"tls-unique on TLS 1.3, wrong password", s13.offer(), ScramSHA256Plus, "wrong", "", withBinding(scram.ChannelBindingTLSUnique, fake), 2, ErrNotAuthorized},
		{"tls-unique on TLS 1.3 again", excused, ScramSHA1Plus, "pencil", "", withBinding(scram.ChannelBindingTLSUnique, fake), 1, ErrBinding},
		{"y where -PLUS is offered", s13.offer(), ScramSHA256, "pencil", "", bindingY, 1, ErrDowngrade},
		{"y on TLS 1.2", s12.offer(), ScramSHA1, "pencil", "", bindingY, 1, ErrDowngrade},
		{"y after the client showed no common binding", excused, ScramSHA256, "pencil", "", bindingY, 0, nil},
		{"y without TLS", Offer{}, ScramSHA256, "pencil", "", bindingY, 0, nil},
		{"y over TLS ended by a proxy", Offer{Secure: true}, ScramSHA256, "pencil", "", bindingY, 0, nil},
		{"n where -PLUS is offered", s13.offer(), ScramSHA256, "pencil", "", noBinding, 0, nil},
		{"n with a -PLUS mechanism", s13.offer(), ScramSHA256Plus, "pencil", "", noBinding, 1, ErrMalformed},
		{"y with a -PLUS mechanism", excused, ScramSHA256Plus, "pencil", "", bindingY, 1, ErrMalformed},
		{"binding with a mechanism without -PLUS", s13.offer(), ScramSHA256, "pencil", "", withBinding(scram.ChannelBindingTLSExporter, exporter(t, s13.client)), 1, ErrMalformed},
		{"own authzid", s13.offer(), ScramSHA256, "pencil", "alice@localhost", noBinding, 0, nil},
		{"someone else's authzid", s13.offer(), ScramSHA256, "pencil", "bob@localhost", noBinding, 1, ErrNotAuthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step, err := run(t, tc.o, tc.mech, "alice", tc.password, tc.authz, tc.client)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) || step != tc.step {
				t.Fatalf("step %d, %v; want step %d, %v", step, err, tc.step, tc.want)
			}
		})
	}
}

// TestScramMalformed: messages outside RFC 5802's grammar are refused, the
// client-final checked against the exchange.
func TestScramMalformed(t *testing.T) {
	o := handshake(t, tls.VersionTLS13, ecKey(t)).offer()
	for _, first := range []string{
		"", "n", "n,", "x,,n=alice,r=abc", "p=,,n=alice,r=abc", "p=tls exporter,,n=alice,r=abc",
		"n,,m=ext,n=alice,r=abc", "n,,n=alice", "n,,n=,r=abc", "n,,n=al=ice,r=abc", "n,,n=alice,r=",
		"n,,n=alice,r=a\x7fb", "n,b=x,n=alice,r=abc", "n,a=bo=b,n=alice,r=abc",
	} {
		conv, err := NewConversation(o, ScramSHA256, lookupFor(account(t, "pencil")))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := conv.Step([]byte(first)); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotAuthorized) {
			t.Errorf("client-first %q: %v, want a refusal", first, err)
		}
	}
	for _, final := range []string{
		"", "c=biws", "c=biws,p=AAAA", "r=x,c=biws,p=AAAA", "c=biws,r=wrongnonce,p=" + strings.Repeat("A", 43) + "=",
		"c=!!,r=N,p=AAAA", "c=biws,r=N,p=AAAA",
	} {
		conv, err := NewConversation(o, ScramSHA256, lookupFor(account(t, "pencil")))
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := conv.Step([]byte("n,,n=alice,r=abc"))
		if err != nil {
			t.Fatal(err)
		}
		nonce, _, _ := strings.Cut(strings.TrimPrefix(string(out), "r="), ",")
		final = strings.Replace(final, "r=N", "r="+nonce, 1)
		if _, done, err := conv.Step([]byte(final)); err == nil || done {
			t.Errorf("client-final %q accepted", final)
		}
	}
}

func TestDecodeName(t *testing.T) {
	for in, want := range map[string]string{"alice": "alice", "a=2Cb=3Dc": "a,b=c", "=3D": "="} {
		if got, ok := decodeName(in, true); !ok || got != want {
			t.Errorf("decodeName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"a=b", "=2", "=2c", "x="} {
		if _, ok := decodeName(in, true); ok {
			t.Errorf("decodeName(%q) accepted", in)
		}
	}
}
