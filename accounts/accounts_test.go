package accounts_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/accounts"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/storage"
)

func TestParseJID(t *testing.T) {
	hosts := []string{"localhost", "example.com"}
	for _, tc := range []struct {
		in, want string
		kind     error
		msg      string
	}{
		{"alice@localhost", "alice@localhost", nil, ""},
		{"Alice@Example.COM", "alice@example.com", nil, ""},
		{"a@@localhost", "", accounts.ErrInvalidJID, `"a@@localhost" is not a valid JID`},
		{"", "", accounts.ErrInvalidJID, "not a valid JID"},
		{"localhost", "", accounts.ErrNotAccount, "want user@domain"},
		{"alice@localhost/phone", "", accounts.ErrNotAccount, "want user@domain"},
		{"alice@example.org", "", accounts.ErrNotServed, "example.org is not served here (hosts: localhost, example.com)"},
	} {
		j, err := accounts.ParseJID(tc.in, hosts)
		if tc.kind == nil {
			if err != nil || j.String() != tc.want {
				t.Errorf("ParseJID(%q) = %q, %v; want %q", tc.in, j, err, tc.want)
			}
			continue
		}
		var ae *accounts.Error
		if !errors.Is(err, tc.kind) || !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseJID(%q): error %v, want %v saying %q", tc.in, err, tc.kind, tc.msg)
		}
	}
}

func TestCreateAndSetPassword(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice := jid.MustParse("alice@localhost")

	if err := accounts.Create(ctx, st, alice, "", 4096); !errors.Is(err, accounts.ErrBadPassword) {
		t.Fatalf("empty password: %v", err)
	}
	if err := accounts.Create(ctx, st, alice, "bad\u0000", 4096); !errors.Is(err, accounts.ErrBadPassword) {
		t.Fatalf("unusable password: %v", err)
	}
	if _, err := st.Account(ctx, alice.String()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused password created the account: %v", err)
	}
	if err := accounts.Create(ctx, st, alice, "pw", 5000); err != nil {
		t.Fatal(err)
	}
	a, err := st.Account(ctx, alice.String())
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]storage.Credentials{"SHA-1": a.SHA1, "SHA-256": a.SHA256} {
		if c.Iterations != 5000 || len(c.Salt) == 0 || len(c.StoredKey) == 0 || len(c.ServerKey) == 0 {
			t.Errorf("%s credentials %+v", name, c)
		}
	}
	if err := accounts.Create(ctx, st, alice, "pw", 4096); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second Create: %v, want storage.ErrExists", err)
	}

	if err := accounts.SetPassword(ctx, st, alice, "new", 4096); err != nil {
		t.Fatal(err)
	}
	b, _ := st.Account(ctx, alice.String())
	if b.SHA256.Iterations != 4096 || bytes.Equal(b.SHA256.StoredKey, a.SHA256.StoredKey) || bytes.Equal(b.SHA1.Salt, a.SHA1.Salt) {
		t.Fatalf("SetPassword did not replace the credentials: %+v", b)
	}
	if err := accounts.SetPassword(ctx, st, jid.MustParse("nobody@localhost"), "x", 4096); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetPassword of no account: %v, want storage.ErrNotFound", err)
	}
	if err := accounts.SetPassword(ctx, st, alice, "", 4096); !errors.Is(err, accounts.ErrBadPassword) {
		t.Fatalf("SetPassword to empty: %v", err)
	}
}
