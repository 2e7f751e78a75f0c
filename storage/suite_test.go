package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// suite is the storage test suite; every engine runs all of it, each test
// on a new, empty database.
var suite = []struct {
	name string
	fn   func(t *testing.T, s Store)
}{
	{"Accounts", testAccounts},
	{"DeleteCascades", testDeleteCascades},
	{"Roster", testRoster},
	{"RosterVersionsConcurrent", testRosterVersionsConcurrent},
	{"RosterHidden", testRosterHidden},
	{"Offline", testOffline},
	{"OfflineQuota", testOfflineQuota},
	{"OfflineCancelled", testOfflineCancelled},
	{"OfflineConcurrent", testOfflineConcurrent},
	{"VCard", testVCard},
	{"Private", testPrivate},
	{"BlockList", testBlockList},
}

func TestStore(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, tc := range suite {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, open(t, e, e.newDSN(t)))
				})
			}
		})
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func newAccount(t *testing.T, s Store, jid string) {
	t.Helper()
	must(t, s.CreateAccount(ctx, Account{JID: jid}))
}

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

func testRoster(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	items, v, err := s.Roster(ctx, o)
	must(t, err)
	if len(items) != 0 || v != 0 {
		t.Fatalf("new roster = %v at version %d", items, v)
	}

	romeo := RosterItem{
		Contact: "romeo@montague.example", Name: "Romeo", Subscription: SubBoth,
		Groups: []string{"Friends", "Lovers, \"star-crossed\""},
	}
	nurse := RosterItem{
		Contact: "nurse@capulet.example", Subscription: SubFrom, AskOut: true, PendingIn: true,
		PendingInMsg: []byte(`<presence type="subscribe"/>`), Approved: true,
	}
	var last int64
	put := func(it RosterItem) {
		t.Helper()
		v, err := s.PutRosterItem(ctx, o, it)
		must(t, err)
		if v <= last {
			t.Fatalf("version %d after %d", v, last)
		}
		last = v
	}
	put(romeo)
	put(nurse)
	items, v, err = s.Roster(ctx, o)
	must(t, err)
	if want := []RosterItem{nurse, romeo}; !reflect.DeepEqual(items, want) || v != last {
		t.Fatalf("Roster = %+v @%d, want %+v @%d", items, v, want, last)
	}

	romeo.Name, romeo.Groups = "R.", nil
	put(romeo)
	got, err := s.RosterItem(ctx, o, romeo.Contact)
	must(t, err)
	if !reflect.DeepEqual(got, romeo) {
		t.Errorf("RosterItem = %+v, want %+v", got, romeo)
	}

	v, err = s.DeleteRosterItem(ctx, o, nurse.Contact)
	must(t, err)
	if v <= last {
		t.Errorf("version %d after delete, was %d", v, last)
	}
	last = v
	_, err = s.DeleteRosterItem(ctx, o, nurse.Contact)
	wantErr(t, "DeleteRosterItem again", err, ErrNotFound)
	_, err = s.RosterItem(ctx, o, nurse.Contact)
	wantErr(t, "RosterItem(deleted)", err, ErrNotFound)
	if _, v, _ := s.Roster(ctx, o); v != last {
		t.Errorf("failed delete moved version to %d from %d", v, last)
	}

	_, err = s.PutRosterItem(ctx, "nobody@capulet.example", romeo)
	wantErr(t, "PutRosterItem(no account)", err, ErrNotFound)
}

func testRosterVersionsConcurrent(t *testing.T, s Store) {
	const o, writers, each = "juliet@capulet.example", 8, 10
	newAccount(t, s, o)
	versions := make(chan int64, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				it := RosterItem{Contact: fmt.Sprintf("c%d-%d@example.org", w, i)}
				v, err := s.PutRosterItem(ctx, o, it)
				if err != nil {
					t.Error(err)
					return
				}
				versions <- v
			}
		})
	}
	wg.Wait()
	close(versions)
	seen := make(map[int64]bool)
	for v := range versions {
		if seen[v] {
			t.Errorf("version %d returned twice", v)
		}
		seen[v] = true
	}
	items, v, err := s.Roster(ctx, o)
	must(t, err)
	if len(items) != writers*each || v != writers*each {
		t.Errorf("%d items at version %d, want %d", len(items), v, writers*each)
	}
}

func testRosterHidden(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	hidden := RosterItem{Contact: "paris@verona.example", Subscription: SubNone, PendingIn: true, Hidden: true}
	_, err := s.PutRosterItem(ctx, o, hidden)
	must(t, err)
	_, err = s.PutRosterItem(ctx, o, RosterItem{Contact: "romeo@montague.example", Subscription: SubBoth})
	must(t, err)
	items, _, err := s.Roster(ctx, o)
	must(t, err)
	if len(items) != 1 || items[0].Contact != "romeo@montague.example" {
		t.Errorf("Roster = %+v, want only romeo", items)
	}
	got, err := s.RosterItem(ctx, o, hidden.Contact)
	must(t, err)
	if !reflect.DeepEqual(got, hidden) {
		t.Errorf("RosterItem(hidden) = %+v, want %+v", got, hidden)
	}
}

func testOffline(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	before := time.Now().Add(-time.Second)
	stanzas := [][]byte{[]byte("<message id='1'/>"), []byte("<message id='2'/>"), {}, []byte("<message id='4'/>")}
	for _, st := range stanzas {
		must(t, s.StoreOffline(ctx, o, st, 0))
	}
	n, err := s.CountOffline(ctx, o)
	must(t, err)
	if n != len(stanzas) {
		t.Fatalf("CountOffline = %d, want %d", n, len(stanzas))
	}
	msgs, err := s.TakeOffline(ctx, o)
	must(t, err)
	if len(msgs) != len(stanzas) {
		t.Fatalf("TakeOffline returned %d messages, want %d", len(msgs), len(stanzas))
	}
	for i, m := range msgs {
		if !bytes.Equal(m.Stanza, stanzas[i]) {
			t.Errorf("message %d = %q, want %q", i, m.Stanza, stanzas[i])
		}
		if m.Stored.Before(before) || m.Stored.After(time.Now()) {
			t.Errorf("message %d stored at %v", i, m.Stored)
		}
		if i > 0 && m.ID <= msgs[i-1].ID {
			t.Errorf("ids not increasing: %d then %d", msgs[i-1].ID, m.ID)
		}
	}
	if n, _ := s.CountOffline(ctx, o); n != 0 {
		t.Errorf("CountOffline after take = %d", n)
	}
	if again, err := s.TakeOffline(ctx, o); err != nil || len(again) != 0 {
		t.Errorf("TakeOffline again = %v, %v", again, err)
	}
	// Ids are not reused once messages are taken.
	must(t, s.StoreOffline(ctx, o, []byte("<message id='5'/>"), 0))
	msgs2, err := s.TakeOffline(ctx, o)
	must(t, err)
	if len(msgs2) != 1 || msgs2[0].ID <= msgs[len(msgs)-1].ID {
		t.Errorf("after take: %+v, last id was %d", msgs2, msgs[len(msgs)-1].ID)
	}

	wantErr(t, "StoreOffline(no account)", s.StoreOffline(ctx, "nobody@capulet.example", []byte("<message/>"), 0), ErrNotFound)
}

func testOfflineQuota(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	for i := range 3 {
		must(t, s.StoreOffline(ctx, o, fmt.Appendf(nil, "<message id='%d'/>", i), 3))
	}
	wantErr(t, "StoreOffline over quota", s.StoreOffline(ctx, o, []byte("<message/>"), 3), ErrQuota)
	must(t, s.StoreOffline(ctx, o, []byte("<message id='3'/>"), 4)) // a bigger limit
	must(t, s.StoreOffline(ctx, o, []byte("<message id='4'/>"), 0)) // no limit
	if n, _ := s.CountOffline(ctx, o); n != 5 {
		t.Errorf("CountOffline = %d, want 5", n)
	}
	_, err := s.TakeOffline(ctx, o)
	must(t, err)
	must(t, s.StoreOffline(ctx, o, []byte("<message/>"), 3))
}

func testOfflineCancelled(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	wantErr(t, "StoreOffline(cancelled)", s.StoreOffline(cctx, o, []byte("<message/>"), 0), context.Canceled)
	if n, _ := s.CountOffline(ctx, o); n != 0 {
		t.Errorf("a cancelled request was stored")
	}
}

func testOfflineConcurrent(t *testing.T, s Store) {
	const owners, senders, each = 10, 200, 5
	for i := range owners {
		newAccount(t, s, fmt.Sprintf("user%d@example.org", i))
	}
	before := s.(*SQL).Stats()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				owner := fmt.Sprintf("user%d@example.org", (g+i)%owners)
				if err := s.StoreOffline(ctx, owner, fmt.Appendf(nil, "<message id='%d-%d'/>", g, i), 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range owners {
		msgs, err := s.TakeOffline(ctx, fmt.Sprintf("user%d@example.org", i))
		must(t, err)
		total += len(msgs)
	}
	if total != senders*each {
		t.Errorf("%d messages stored, want %d", total, senders*each)
	}
	after := s.(*SQL).Stats()
	batches, rows := after.Batches-before.Batches, after.Rows-before.Rows
	t.Logf("%d rows in %d batches, largest %d", rows, batches, after.MaxBatch)
	if rows != senders*each || batches >= rows || after.MaxBatch < 2 {
		t.Errorf("writer stats: %d rows in %d batches, largest %d: want batches of more than one row", rows, batches, after.MaxBatch)
	}
}

func testVCard(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	_, err := s.VCard(ctx, o)
	wantErr(t, "VCard before set", err, ErrNotFound)
	for _, v := range [][]byte{[]byte("<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>"), []byte("<vCard xmlns='vcard-temp'/>"), nil} {
		must(t, s.SetVCard(ctx, o, v))
		got, err := s.VCard(ctx, o)
		must(t, err)
		if !bytes.Equal(got, v) {
			t.Errorf("VCard = %q, want %q", got, v)
		}
	}
	wantErr(t, "SetVCard(no account)", s.SetVCard(ctx, "nobody@capulet.example", []byte("<vCard/>")), ErrNotFound)
}

func testPrivate(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	_, err := s.Private(ctx, o, "storage:bookmarks")
	wantErr(t, "Private before set", err, ErrNotFound)
	must(t, s.SetPrivate(ctx, o, "storage:bookmarks", []byte("<storage xmlns='storage:bookmarks'/>")))
	must(t, s.SetPrivate(ctx, o, "storage:rosternotes", []byte("<storage xmlns='storage:rosternotes'/>")))
	must(t, s.SetPrivate(ctx, o, "storage:bookmarks", []byte("<storage xmlns='storage:bookmarks'><conference/></storage>")))
	got, err := s.Private(ctx, o, "storage:bookmarks")
	must(t, err)
	if want := "<storage xmlns='storage:bookmarks'><conference/></storage>"; string(got) != want {
		t.Errorf("Private(bookmarks) = %q, want %q", got, want)
	}
	got, err = s.Private(ctx, o, "storage:rosternotes")
	must(t, err)
	if want := "<storage xmlns='storage:rosternotes'/>"; string(got) != want {
		t.Errorf("Private(rosternotes) = %q, want %q", got, want)
	}
	wantErr(t, "SetPrivate(no account)", s.SetPrivate(ctx, "nobody@capulet.example", "a:b", []byte("<x/>")), ErrNotFound)
}

func testBlockList(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	list := func(want ...string) {
		t.Helper()
		got, err := s.BlockList(ctx, o)
		must(t, err)
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("BlockList = %q, want %q", got, want)
		}
	}
	list()
	must(t, s.Block(ctx, o, []string{"tybalt@capulet.example", "paris@verona.example", "capulet.example"}))
	must(t, s.Block(ctx, o, []string{"paris@verona.example"})) // again: no error
	list("capulet.example", "paris@verona.example", "tybalt@capulet.example")
	must(t, s.Unblock(ctx, o, []string{"paris@verona.example", "never@blocked.example"}))
	list("capulet.example", "tybalt@capulet.example")
	must(t, s.Unblock(ctx, o, nil))
	list()
	wantErr(t, "Block(no account)", s.Block(ctx, "nobody@capulet.example", []string{"a@b.example"}), ErrNotFound)
}
