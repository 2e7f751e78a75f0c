package sasl

import (
	"crypto/tls"
	"errors"
	"slices"
	"testing"

	"github.com/parley-im/parley/storage"
	"github.com/xdg-go/scram"
)

func account(t testing.TB, password string) storage.Account {
	t.Helper()
	s1, s256, err := Derive(password, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return storage.Account{JID: "alice@localhost", SHA1: s1, SHA256: s256}
}

func lookupFor(a storage.Account) Lookup {
	return func(user string) (storage.Account, error) {
		if user != "alice" {
			return storage.Account{}, storage.ErrNotFound
		}
		return a, nil
	}
}

func TestDeriveAndVerify(t *testing.T) {
	a := account(t, "pencil")
	if !Verify(a.SHA256, scram.SHA256, "pencil") || !Verify(a.SHA1, scram.SHA1, "pencil") {
		t.Fatal("correct password rejected")
	}
	if Verify(a.SHA256, scram.SHA256, "Pencil") {
		t.Fatal("wrong password accepted")
	}
	b := account(t, "pencil")
	if string(a.SHA256.Salt) == string(b.SHA256.Salt) {
		t.Fatal("two derivations share a salt")
	}
	if _, _, err := Derive("", 4096); err == nil {
		t.Fatal("empty password accepted")
	}
}

func TestMechanisms(t *testing.T) {
	tls13 := &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13}
	cases := []struct {
		name string
		o    Offer
		want []string
	}{
		{"plain tcp", Offer{AllowPlain: true}, []string{ScramSHA256, ScramSHA1}},
		{"tls 1.3", Offer{TLS: tls13, AllowPlain: true}, []string{ScramSHA256Plus, ScramSHA1Plus, ScramSHA256, ScramSHA1, Plain}},
		{"tls 1.3 no plain", Offer{TLS: tls13}, []string{ScramSHA256Plus, ScramSHA1Plus, ScramSHA256, ScramSHA1}},
	}
	for _, tc := range cases {
		if got := tc.o.Mechanisms(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := NewConversation(Offer{}, Plain, nil); !errors.Is(err, ErrMechanism) {
		t.Errorf("PLAIN without TLS: got %v, want ErrMechanism", err)
	}
}

func TestPlain(t *testing.T) {
	a := account(t, "pencil")
	o := Offer{TLS: &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13}, AllowPlain: true}
	cases := []struct {
		in   string
		want error
	}{
		{"\x00alice\x00pencil", nil},
		{"alice@localhost\x00alice\x00pencil", nil},
		{"\x00alice\x00wrong", ErrNotAuthorized},
		{"\x00bob\x00pencil", ErrNotAuthorized},
		{"bob@localhost\x00alice\x00pencil", ErrNotAuthorized},
		{"alice pencil", ErrMalformed},
		{"\x00\x00pencil", ErrMalformed},
	}
	for _, tc := range cases {
		conv, err := NewConversation(o, Plain, lookupFor(a))
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := conv.Step([]byte(tc.in))
		if !errors.Is(err, tc.want) || (tc.want == nil) != done {
			t.Errorf("%q: done=%v err=%v, want %v", tc.in, done, err, tc.want)
		}
		if tc.want == nil && conv.Username() != "alice" {
			t.Errorf("%q: username %q", tc.in, conv.Username())
		}
	}
}

// TestScram runs the library's client against our server side.
func TestScram(t *testing.T) {
	a := account(t, "pencil")
	for _, tc := range []struct {
		mech     string
		hash     scram.HashGeneratorFcn
		password string
		ok       bool
	}{
		{ScramSHA256, scram.SHA256, "pencil", true},
		{ScramSHA1, scram.SHA1, "pencil", true},
		{ScramSHA256, scram.SHA256, "wrong", false},
	} {
		client, err := tc.hash.NewClient("alice", tc.password, "")
		if err != nil {
			t.Fatal(err)
		}
		cc := client.NewConversation()
		sc, err := NewConversation(Offer{}, tc.mech, lookupFor(a))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := cc.Step("")
		var done bool
		var serr error
		for range 3 {
			var out []byte
			out, done, serr = sc.Step([]byte(msg))
			if serr != nil || done {
				if done {
					if _, err := cc.Step(string(out)); err != nil {
						t.Fatalf("%s: client rejected the server's proof: %v", tc.mech, err)
					}
				}
				break
			}
			if msg, err = cc.Step(string(out)); err != nil {
				t.Fatalf("%s: client: %v", tc.mech, err)
			}
		}
		if done != tc.ok || (serr != nil) == tc.ok {
			t.Errorf("%s password %q: done=%v err=%v", tc.mech, tc.password, done, serr)
		}
		if tc.ok && sc.Username() != "alice" {
			t.Errorf("username %q", sc.Username())
		}
	}
}

func TestPlusWithoutTLSRefused(t *testing.T) {
	if _, err := NewConversation(Offer{}, ScramSHA256Plus, nil); !errors.Is(err, ErrMechanism) {
		t.Fatalf("got %v, want ErrMechanism", err)
	}
}

// FuzzScramServer feeds arbitrary client messages to the server side: it
// must answer with an error or a challenge, never panic.
func FuzzScramServer(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=abcdef"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add([]byte("y,,n=alice,r=x"), []byte(""))
	f.Add([]byte("p=tls-exporter,,n=alice,r=x"), []byte("c=,r=,p="))
	f.Add([]byte("n,a=bob,n=alice,r=x"), []byte("garbage"))
	f.Add([]byte("\x00alice\x00pencil"), []byte(""))
	f.Add([]byte("p=tls-unique,,n=alice,r=x"), []byte("c=cD10bHMtdW5pcXVlLCxmYWtl,r=x,p=AAAA"))
	f.Add([]byte("n,a=alice@localhost,n=al=2Cice,r=x,ext=1"), []byte("c=bixhPWFsaWNlQGxvY2FsaG9zdCw=,r=x,x=y,p=AAAA"))
	a := account(f, "pencil")
	tls13 := realTLS(f)
	f.Fuzz(func(t *testing.T, first, final []byte) {
		for _, excused := range []bool{false, true} {
			o := Offer{TLS: tls13, AllowPlain: true, NoCommonBinding: excused}
			for _, mech := range []string{ScramSHA256, ScramSHA1, ScramSHA256Plus, Plain} {
				conv, err := NewConversation(o, mech, lookupFor(a))
				if err != nil {
					t.Fatal(err)
				}
				if _, done, err := conv.Step(first); err != nil || done {
					continue
				}
				_, _, _ = conv.Step(final)
			}
		}
	})
}

// realTLS returns the server side state of a real TLS 1.3 handshake.
func realTLS(t testing.TB) *tls.ConnectionState {
	return handshake(t, tls.VersionTLS13, ecKey(t)).server
}
