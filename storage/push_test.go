package storage

import (
	"reflect"
	"testing"
)

// The push registrations join the suite every engine runs (suite_test.go).
func init() {
	suite = append(suite, struct {
		name string
		fn   func(t *testing.T, s Store)
	}{"PushRegistrations", testPushRegistrations})
}

func testPushRegistrations(t *testing.T, s Store) {
	const alice = "alice@example.com"
	newAccount(t, s, alice)
	newAccount(t, s, "bob@example.com")

	wantErr(t, "put for no account", s.PutPushRegistration(ctx, "nobody@example.com", PushRegistration{Service: "push.example.com", Node: "n"}), ErrNotFound)

	form := []byte("<x xmlns='jabber:x:data' type='submit'/>")
	must(t, s.PutPushRegistration(ctx, alice, PushRegistration{Service: "push.example.com", Node: "n2"}))
	must(t, s.PutPushRegistration(ctx, alice, PushRegistration{Service: "push.example.com", Node: "n1", Options: []byte("old")}))
	must(t, s.PutPushRegistration(ctx, alice, PushRegistration{Service: "other.example.com", Node: ""}))
	// The same service and node again: the options are replaced (XEP-0357 §5).
	must(t, s.PutPushRegistration(ctx, alice, PushRegistration{Service: "push.example.com", Node: "n1", Options: form}))
	must(t, s.PutPushRegistration(ctx, "bob@example.com", PushRegistration{Service: "push.example.com", Node: "b"}))

	got, err := s.PushRegistrations(ctx, alice)
	must(t, err)
	want := []PushRegistration{
		{Service: "other.example.com", Node: ""},
		{Service: "push.example.com", Node: "n1", Options: form},
		{Service: "push.example.com", Node: "n2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("registrations = %+v\nwant %+v", got, want)
	}

	wantErr(t, "delete a missing one", s.DeletePushRegistration(ctx, alice, "push.example.com", "nope"), ErrNotFound)
	must(t, s.DeletePushRegistration(ctx, alice, "push.example.com", "n2"))
	n, err := s.DeletePushService(ctx, alice, "push.example.com")
	must(t, err)
	if n != 1 {
		t.Fatalf("DeletePushService removed %d, want 1 (n1)", n)
	}
	if n, err := s.DeletePushService(ctx, alice, "push.example.com"); err != nil || n != 0 {
		t.Fatalf("DeletePushService again = %d, %v; want 0, nil", n, err)
	}
	got, err = s.PushRegistrations(ctx, alice)
	must(t, err)
	if !reflect.DeepEqual(got, []PushRegistration{{Service: "other.example.com"}}) {
		t.Fatalf("after deleting: %+v", got)
	}

	// Bob's are his own, and go with his account.
	got, err = s.PushRegistrations(ctx, "bob@example.com")
	must(t, err)
	if len(got) != 1 || got[0].Node != "b" {
		t.Fatalf("bob's registrations: %+v", got)
	}
	must(t, s.DeleteAccount(ctx, "bob@example.com"))
	got, err = s.PushRegistrations(ctx, "bob@example.com")
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("registrations outlived the account: %+v", got)
	}
}
