package storage

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// archiveFixture archives n messages for owner, alternating between two
// peers (the second with a resource), one millisecond apart starting at
// t0, and returns their ids.
func archiveFixture(t *testing.T, s Store, owner string, n int, t0 time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		with := "romeo@montague.example"
		if i%2 == 1 {
			with = "nurse@capulet.example/kitchen"
		}
		id := NewArchiveID(at)
		ids = append(ids, id)
		must(t, s.Archive(ctx, []ArchiveEntry{{Owner: owner, ID: id, Time: at, With: with, Stanza: fmt.Appendf(nil, "<message id='m%d'/>", i)}}, nil))
	}
	return ids
}

func pageIDs(p ArchivePage) []string {
	var ids []string
	for _, m := range p.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

func testArchiveQuery(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	ids := archiveFixture(t, s, o, 10, t0)
	if !slices.IsSorted(ids) {
		t.Fatalf("ids do not sort in archive order: %v", ids)
	}
	if at, ok := ArchiveIDTime(ids[3]); !ok || !at.Equal(t0.Add(3*time.Millisecond)) {
		t.Fatalf("ArchiveIDTime = %v %v", at, ok)
	}

	q := func(aq ArchiveQuery) ArchivePage {
		t.Helper()
		p, err := s.QueryArchive(ctx, o, aq)
		must(t, err)
		return p
	}
	all := q(ArchiveQuery{Count: true})
	if !slices.Equal(pageIDs(all), ids) || !all.Complete || all.Count != 10 {
		t.Fatalf("everything: %v complete=%v count=%d", pageIDs(all), all.Complete, all.Count)
	}
	if m := all.Messages[1]; m.With != "nurse@capulet.example/kitchen" || string(m.Stanza) != "<message id='m1'/>" || !m.Time.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("message 1 = %+v", m)
	}
	if got := pageIDs(q(ArchiveQuery{With: "nurse@capulet.example"})); !slices.Equal(got, []string{ids[1], ids[3], ids[5], ids[7], ids[9]}) {
		t.Errorf("with bare = %v", got)
	}
	if got := pageIDs(q(ArchiveQuery{With: "nurse@capulet.example/kitchen"})); len(got) != 5 {
		t.Errorf("with full = %v", got)
	}
	if got := pageIDs(q(ArchiveQuery{With: "nurse@capulet.example/garden"})); len(got) != 0 {
		t.Errorf("with another resource = %v", got)
	}
	if got := pageIDs(q(ArchiveQuery{Start: t0.Add(2 * time.Millisecond), End: t0.Add(4 * time.Millisecond)})); !slices.Equal(got, ids[2:5]) {
		t.Errorf("start/end = %v, want %v", got, ids[2:5])
	}
	if got := pageIDs(q(ArchiveQuery{AfterID: ids[6]})); !slices.Equal(got, ids[7:]) {
		t.Errorf("after-id = %v", got)
	}
	if got := pageIDs(q(ArchiveQuery{BeforeID: ids[2]})); !slices.Equal(got, ids[:2]) {
		t.Errorf("before-id = %v", got)
	}
	if got := pageIDs(q(ArchiveQuery{IDs: []string{ids[8], ids[1], ids[4]}})); !slices.Equal(got, []string{ids[1], ids[4], ids[8]}) {
		t.Errorf("ids = %v", got)
	}

	// Forward paging.
	p := q(ArchiveQuery{Max: 4, Count: true})
	if !slices.Equal(pageIDs(p), ids[:4]) || p.Complete || p.Count != 10 {
		t.Fatalf("first page = %v complete=%v count=%d", pageIDs(p), p.Complete, p.Count)
	}
	p = q(ArchiveQuery{Max: 4, PageAfter: ids[3]})
	if !slices.Equal(pageIDs(p), ids[4:8]) || p.Complete {
		t.Fatalf("second page = %v complete=%v", pageIDs(p), p.Complete)
	}
	p = q(ArchiveQuery{Max: 4, PageAfter: ids[7]})
	if !slices.Equal(pageIDs(p), ids[8:]) || !p.Complete {
		t.Fatalf("last page = %v complete=%v", pageIDs(p), p.Complete)
	}
	// Backward paging, from the end.
	p = q(ArchiveQuery{Max: 4, Last: true})
	if !slices.Equal(pageIDs(p), ids[6:]) || p.Complete {
		t.Fatalf("last page backward = %v complete=%v", pageIDs(p), p.Complete)
	}
	p = q(ArchiveQuery{Max: 4, PageBefore: ids[6]})
	if !slices.Equal(pageIDs(p), ids[2:6]) || p.Complete {
		t.Fatalf("previous page = %v complete=%v", pageIDs(p), p.Complete)
	}
	p = q(ArchiveQuery{Max: 4, PageBefore: ids[2]})
	if !slices.Equal(pageIDs(p), ids[:2]) || !p.Complete {
		t.Fatalf("first page backward = %v complete=%v", pageIDs(p), p.Complete)
	}
	// Filters and paging together: the count ignores the page bounds.
	p = q(ArchiveQuery{With: "romeo@montague.example", Max: 2, PageAfter: ids[2], Count: true})
	if !slices.Equal(pageIDs(p), []string{ids[4], ids[6]}) || p.Complete || p.Count != 5 {
		t.Fatalf("filtered page = %v complete=%v count=%d", pageIDs(p), p.Complete, p.Count)
	}

	// Unknown ids, and other owners' ids, are not found.
	for _, aq := range []ArchiveQuery{{AfterID: "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, {PageBefore: "nope"}} {
		if _, err := s.QueryArchive(ctx, o, aq); !errors.Is(err, ErrNotFound) {
			t.Errorf("query %+v: err = %v, want ErrNotFound", aq, err)
		}
	}
	newAccount(t, s, "romeo@montague.example")
	if _, err := s.QueryArchive(ctx, "romeo@montague.example", ArchiveQuery{AfterID: ids[0]}); !errors.Is(err, ErrNotFound) {
		t.Errorf("another owner's id: err = %v, want ErrNotFound", err)
	}

	since, err := s.ArchiveSince(ctx, o, ids[7], 100)
	must(t, err)
	if len(since) != 2 || since[0].ID != ids[8] {
		t.Errorf("ArchiveSince = %v", since)
	}
	since, err = s.ArchiveSince(ctx, o, "", 3)
	must(t, err)
	if len(since) != 3 || since[0].ID != ids[0] {
		t.Errorf("ArchiveSince from the start = %v", since)
	}
}

func testArchiveBothSides(t *testing.T, s Store) {
	const a, b = "juliet@capulet.example", "romeo@montague.example"
	newAccount(t, s, a)
	newAccount(t, s, b)
	now := time.Now()
	id := NewArchiveID(now)
	st := []byte("<message to='romeo@montague.example'><body>hi</body></message>")
	// One message, both owners, and an owner without an account (skipped).
	must(t, s.Archive(ctx, []ArchiveEntry{
		{Owner: a, ID: id, Time: now, With: b, Stanza: st},
		{Owner: b, ID: id, Time: now, With: a + "/balcony", Stanza: st},
		{Owner: "ghost@capulet.example", ID: id, Time: now, With: a, Stanza: st},
	}, nil))
	for _, o := range []string{a, b} {
		p, err := s.QueryArchive(ctx, o, ArchiveQuery{})
		must(t, err)
		if len(p.Messages) != 1 || p.Messages[0].ID != id {
			t.Errorf("%s's archive = %+v", o, p.Messages)
		}
	}
	// The archive goes with the account.
	must(t, s.DeleteAccount(ctx, a))
	newAccount(t, s, a)
	p, err := s.QueryArchive(ctx, a, ArchiveQuery{})
	must(t, err)
	if len(p.Messages) != 0 {
		t.Errorf("archive survived its account: %+v", p.Messages)
	}
}

func testArchiveConcurrent(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				now := time.Now()
				err := s.Archive(ctx, []ArchiveEntry{{Owner: o, ID: NewArchiveID(now), Time: now, With: "romeo@montague.example", Stanza: fmt.Appendf(nil, "<message id='%d-%d'/>", w, i)}}, nil)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	p, err := s.QueryArchive(ctx, o, ArchiveQuery{Count: true})
	must(t, err)
	if p.Count != writers*each || len(p.Messages) != writers*each {
		t.Fatalf("archived %d (count %d), want %d", len(p.Messages), p.Count, writers*each)
	}
}

func testArchivePrefs(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	p, err := s.ArchivePrefs(ctx, o)
	must(t, err)
	if p.Default != ArchiveAlways || len(p.Always)+len(p.Never) != 0 {
		t.Fatalf("default prefs = %+v", p)
	}
	want := ArchivePrefs{Default: ArchiveRoster, Always: []string{"romeo@montague.example"}, Never: []string{"tybalt@capulet.example", "paris@verona.example"}}
	must(t, s.SetArchivePrefs(ctx, o, want))
	p, err = s.ArchivePrefs(ctx, o)
	must(t, err)
	if p.Default != want.Default || !slices.Equal(p.Always, want.Always) || !slices.Equal(p.Never, want.Never) {
		t.Fatalf("prefs = %+v, want %+v", p, want)
	}
	must(t, s.SetArchivePrefs(ctx, o, ArchivePrefs{Default: ArchiveNever}))
	p, err = s.ArchivePrefs(ctx, o)
	must(t, err)
	if p.Default != ArchiveNever || len(p.Always)+len(p.Never) != 0 {
		t.Fatalf("replaced prefs = %+v", p)
	}
	wantErr(t, "prefs without an account", s.SetArchivePrefs(ctx, "ghost@capulet.example", want), ErrNotFound)
}

func testSMSessions(t *testing.T, s Store) {
	const o = "juliet@capulet.example"
	newAccount(t, s, o)
	_, err := s.SMSession(ctx, o, "x")
	wantErr(t, "unknown session", err, ErrNotFound)
	r := SMSession{Owner: o, ID: "sm1", Resource: "balcony", Node: "n1", Member: "m1", Created: time.Now().UTC().Truncate(time.Microsecond), Presence: []byte("<presence/>"), Carbons: true, Interests: 1}
	must(t, s.PutSMSession(ctx, r))
	must(t, s.PutSMSession(ctx, SMSession{Owner: o, ID: "sm2", Resource: "garden", Node: "n2", Member: "m2", Created: time.Now()}))

	// Archiving moves the handled count, never backwards.
	now := time.Now()
	id1, id2, id3 := NewArchiveID(now), NewArchiveID(now), NewArchiveID(now)
	must(t, s.Archive(ctx, []ArchiveEntry{{Owner: o, ID: id1, Time: now, With: "romeo@montague.example", Stanza: []byte("<message/>")}}, &SMMark{Owner: o, ID: "sm1", Member: "m1", Handled: 7}))
	must(t, s.Archive(ctx, nil, &SMMark{Owner: o, ID: "sm1", Member: "m1", Handled: 5}))
	must(t, s.Archive(ctx, nil, &SMMark{Owner: o, ID: "sm1", Member: "m2", Handled: 9})) // not its holder: ignored
	mustHold(t, true)(s.SetSMAcked(ctx, o, "sm1", "m1", id2))
	mustHold(t, true)(s.SetSMAcked(ctx, o, "sm1", "m1", id1))  // older: ignored, still held
	mustHold(t, false)(s.SetSMAcked(ctx, o, "sm1", "m2", id3)) // not its holder: fenced
	got, err := s.SMSession(ctx, o, "sm1")
	must(t, err)
	r.Handled, r.Acked = 7, id2
	if got.Resource != r.Resource || got.Node != r.Node || got.Member != r.Member || !got.Created.Equal(r.Created) ||
		got.Handled != r.Handled || got.Acked != r.Acked || string(got.Presence) != string(r.Presence) || !got.Carbons || got.Interests != 1 {
		t.Fatalf("session = %+v, want %+v", got, r)
	}
	mustHold(t, true)(s.SetSMPresence(ctx, o, "sm1", "m1", []byte("<presence><show>away</show></presence>"), 3))
	mustHold(t, false)(s.SetSMPresence(ctx, o, "sm1", "m2", []byte("<presence/>"), 0))
	got, err = s.SMSession(ctx, o, "sm1")
	must(t, err)
	if string(got.Presence) != "<presence><show>away</show></presence>" || got.Interests != 3 {
		t.Fatalf("presence = %q, interests = %d", got.Presence, got.Interests)
	}

	holders, err := s.SMHolders(ctx)
	must(t, err)
	slices.SortFunc(holders, func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) })
	if !slices.Equal(holders, [][2]string{{"n1", "m1"}, {"n2", "m2"}}) {
		t.Fatalf("holders = %v", holders)
	}
	// A claim succeeds once: the second claimant sees another holder.
	ok, err := s.ClaimSMSession(ctx, o, "sm2", "m2", "n3", "m3")
	must(t, err)
	if !ok {
		t.Fatal("first claim failed")
	}
	if ok, err = s.ClaimSMSession(ctx, o, "sm2", "m2", "n1", "m1"); err != nil || ok {
		t.Fatalf("second claim = %v, %v; want false", ok, err)
	}
	if ok, err = s.ClaimSMSession(ctx, o, "sm2", "", "n2", "m2"); err != nil || !ok {
		t.Fatalf("unconditional claim = %v, %v; want true", ok, err)
	}
	n, err := s.DeleteSMSessionsOf(ctx, "m2")
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteSMSessionsOf = %d, want 1", n)
	}
	must(t, s.DeleteSMSession(ctx, o, "sm1", "m2")) // not its holder: kept
	if _, err := s.SMSession(ctx, o, "sm1"); err != nil {
		t.Fatalf("a record deleted by a process not holding it: %v", err)
	}
	must(t, s.DeleteSMSession(ctx, o, "sm1", "m1"))
	_, err = s.SMSession(ctx, o, "sm1")
	wantErr(t, "deleted session", err, ErrNotFound)
}

// mustHold checks what a conditional update of a session record reported.
func mustHold(t *testing.T, want bool) func(bool, error) {
	t.Helper()
	return func(got bool, err error) {
		t.Helper()
		must(t, err)
		if got != want {
			t.Fatalf("held = %v, want %v", got, want)
		}
	}
}
