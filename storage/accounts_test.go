package storage

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func testAccounts(t *testing.T, s Store) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	a := Account{
		JID:     "juliet@capulet.example",
		SHA1:    Credentials{Salt: []byte("salt1"), Iterations: 4096, StoredKey: []byte{1, 2}, ServerKey: []byte{3, 4}},
		SHA256:  Credentials{Salt: []byte("salt256"), Iterations: 8192, StoredKey: []byte{5}, ServerKey: []byte{6}},
		Created: created,
	}
	must(t, s.CreateAccount(ctx, a))
	got, err := s.Account(ctx, a.JID)
	must(t, err)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("Account = %+v, want %+v", got, a)
	}
	wantErr(t, "CreateAccount again", s.CreateAccount(ctx, a), ErrExists)
	_, err = s.Account(ctx, "nobody@capulet.example")
	wantErr(t, "Account(nobody)", err, ErrNotFound)

	// A zero Created is now; missing credentials stay empty.
	before := time.Now().Add(-time.Second)
	newAccount(t, s, "romeo@montague.example")
	r, err := s.Account(ctx, "romeo@montague.example")
	must(t, err)
	if r.Created.Before(before) || r.SHA1.Salt != nil || r.SHA256.Iterations != 0 {
		t.Errorf("fresh account = %+v", r)
	}

	c1 := Credentials{Salt: []byte("n1"), Iterations: 10000, StoredKey: []byte("sk1"), ServerKey: []byte("vk1")}
	c256 := Credentials{Salt: []byte("n2"), Iterations: 20000, StoredKey: []byte("sk2"), ServerKey: []byte("vk2")}
	must(t, s.SetCredentials(ctx, "romeo@montague.example", c1, c256))
	r, err = s.Account(ctx, "romeo@montague.example")
	must(t, err)
	if !reflect.DeepEqual(r.SHA1, c1) || !reflect.DeepEqual(r.SHA256, c256) {
		t.Errorf("after SetCredentials: %+v", r)
	}
	wantErr(t, "SetCredentials(nobody)", s.SetCredentials(ctx, "nobody@x.example", c1, c256), ErrNotFound)

	newAccount(t, s, "benvolio@montague.example")
	newAccount(t, s, "capulet.example") // a domain-only JID is its own domain
	all, err := s.Accounts(ctx, "")
	must(t, err)
	want := []string{"benvolio@montague.example", "capulet.example", "juliet@capulet.example", "romeo@montague.example"}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("Accounts(\"\") = %q, want %q", all, want)
	}
	mont, err := s.Accounts(ctx, "montague.example")
	must(t, err)
	if want := []string{"benvolio@montague.example", "romeo@montague.example"}; !reflect.DeepEqual(mont, want) {
		t.Errorf("Accounts(montague.example) = %q, want %q", mont, want)
	}
	none, err := s.Accounts(ctx, "nowhere.example")
	must(t, err)
	if len(none) != 0 {
		t.Errorf("Accounts(nowhere.example) = %q", none)
	}

	must(t, s.DeleteAccount(ctx, "romeo@montague.example"))
	_, err = s.Account(ctx, "romeo@montague.example")
	wantErr(t, "Account after delete", err, ErrNotFound)
	wantErr(t, "DeleteAccount again", s.DeleteAccount(ctx, "romeo@montague.example"), ErrNotFound)
}

func testDeleteCascades(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	newAccount(t, s, "nurse@capulet.example") // must be left alone
	for _, owner := range []string{o, "nurse@capulet.example"} {
		_, err := s.PutRosterItem(ctx, owner, RosterItem{Contact: "romeo@montague.example"})
		must(t, err)
		must(t, s.StoreOffline(ctx, owner, []byte("<message/>"), 0))
		must(t, s.SetVCard(ctx, owner, []byte("<vCard/>")))
		must(t, s.SetPrivate(ctx, owner, "storage:bookmarks", []byte("<storage/>")))
		must(t, s.Block(ctx, owner, []string{"tybalt@capulet.example"}))
	}

	must(t, s.DeleteAccount(ctx, o))
	newAccount(t, s, o) // a new account under the same JID starts empty
	items, _, err := s.Roster(ctx, o)
	must(t, err)
	_, err = s.RosterItem(ctx, o, "romeo@montague.example")
	wantErr(t, "RosterItem", err, ErrNotFound)
	n, err := s.CountOffline(ctx, o)
	must(t, err)
	_, verr := s.VCard(ctx, o)
	_, perr := s.Private(ctx, o, "storage:bookmarks")
	bl, err := s.BlockList(ctx, o)
	must(t, err)
	if len(items) != 0 || n != 0 || !errors.Is(verr, ErrNotFound) || !errors.Is(perr, ErrNotFound) || len(bl) != 0 {
		t.Errorf("after delete: roster %v, %d offline, vcard %v, private %v, blocked %v", items, n, verr, perr, bl)
	}

	n, err = s.CountOffline(ctx, "nurse@capulet.example")
	must(t, err)
	bl, err = s.BlockList(ctx, "nurse@capulet.example")
	must(t, err)
	if n != 1 || len(bl) != 1 {
		t.Errorf("another account lost data: %d offline, blocked %v", n, bl)
	}
}

func testAccountsPage(t *testing.T, s Store) {
	// Byte order: upper case before lower case, "a.example" before "b.example".
	jids := []string{"Zed@a.example", "alice@a.example", "bob@a.example", "carol@b.example", "dave@a.example"}
	for _, j := range jids {
		must(t, s.CreateAccount(ctx, Account{JID: j, Created: time.Now()}))
	}
	page := func(domain, after string, limit int) []string {
		t.Helper()
		got, err := s.AccountsPage(ctx, domain, after, limit)
		must(t, err)
		return got
	}
	if got := page("", "", 2); !slices.Equal(got, []string{"Zed@a.example", "alice@a.example"}) {
		t.Errorf("first page = %v", got)
	}
	if got := page("", "alice@a.example", 2); !slices.Equal(got, []string{"bob@a.example", "carol@b.example"}) {
		t.Errorf("second page = %v", got)
	}
	if got := page("", "carol@b.example", 10); !slices.Equal(got, []string{"dave@a.example"}) {
		t.Errorf("last page = %v", got)
	}
	if got := page("a.example", "alice@a.example", 10); !slices.Equal(got, []string{"bob@a.example", "dave@a.example"}) {
		t.Errorf("a.example after alice = %v", got)
	}
	if got := page("c.example", "", 10); len(got) != 0 {
		t.Errorf("another domain = %v", got)
	}
}
