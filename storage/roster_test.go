package storage

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

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
	// Hidden items are returned, marked, for the pending requests they carry.
	if len(items) != 2 || items[0].Contact != "paris@verona.example" || !items[0].Hidden || items[1].Hidden {
		t.Errorf("Roster = %+v, want hidden paris and romeo", items)
	}
	got, err := s.RosterItem(ctx, o, hidden.Contact)
	must(t, err)
	if !reflect.DeepEqual(got, hidden) {
		t.Errorf("RosterItem(hidden) = %+v, want %+v", got, hidden)
	}
}
