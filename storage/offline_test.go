package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

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

func testOfflineQuotaConcurrent(t *testing.T, s Store) {
	const o, limit, senders = "juliet@capulet.example", 10, 60
	newAccount(t, s, o)
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() { errs <- s.StoreOffline(ctx, o, []byte("<message/>"), limit) })
	}
	wg.Wait()
	close(errs)
	ok, over := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrQuota):
			over++
		default:
			t.Error(err)
		}
	}
	n, err := s.CountOffline(ctx, o)
	must(t, err)
	if ok != limit || over != senders-limit || n != limit {
		t.Errorf("%d stored, %d over quota, %d counted; want %d, %d, %d", ok, over, n, limit, senders-limit, limit)
	}
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
			// Requests for an owner without an account share batches
			// with the others, and fail alone.
			if err := s.StoreOffline(ctx, "nobody@example.org", []byte("<message/>"), 0); !errors.Is(err, ErrNotFound) {
				t.Errorf("StoreOffline(nobody) = %v, want ErrNotFound", err)
			}
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

// HaveOffline finds the owners with stored messages among any number of
// owners, over several batches.
func testHaveOffline(t *testing.T, s Store) {
	var owners, want []string
	for i := range haveOfflineBatch + 40 {
		o := fmt.Sprintf("user%03d@capulet.example", i)
		newAccount(t, s, o)
		owners = append(owners, o)
		if i%50 == 7 || i == haveOfflineBatch {
			must(t, s.StoreOffline(ctx, o, []byte("<message/>"), 0))
			must(t, s.StoreOffline(ctx, o, []byte("<message/>"), 0)) // two: reported once
			want = append(want, o)
		}
	}
	// Order, duplicates and owners without an account do not matter.
	asked := append([]string{"nobody@capulet.example", owners[7]}, owners...)
	slices.Reverse(asked)
	got, err := s.HaveOffline(ctx, asked)
	must(t, err)
	if !slices.Equal(got, want) {
		t.Errorf("HaveOffline = %v, want %v", got, want)
	}
	if got, err := s.HaveOffline(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("HaveOffline(nil) = %v, %v", got, err)
	}
	_, err = s.TakeOffline(ctx, want[0])
	must(t, err)
	got, err = s.HaveOffline(ctx, want[:1])
	must(t, err)
	if len(got) != 0 {
		t.Errorf("HaveOffline after TakeOffline = %v, want none", got)
	}
}
