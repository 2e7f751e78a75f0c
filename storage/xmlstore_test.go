package storage

import (
	"bytes"
	"reflect"
	"testing"
)

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
