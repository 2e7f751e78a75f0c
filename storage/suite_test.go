package storage

import (
	"context"
	"errors"
	"testing"
)

// suite is the storage test suite; every engine runs all of it, each test
// on a new, empty database.
var suite = []struct {
	name string
	fn   func(t *testing.T, s Store)
}{
	{"Accounts", testAccounts},
	{"AccountsPage", testAccountsPage},
	{"DeleteCascades", testDeleteCascades},
	{"Roster", testRoster},
	{"RosterVersionsConcurrent", testRosterVersionsConcurrent},
	{"RosterHidden", testRosterHidden},
	{"Offline", testOffline},
	{"OfflineQuota", testOfflineQuota},
	{"OfflineQuotaConcurrent", testOfflineQuotaConcurrent},
	{"OfflineCancelled", testOfflineCancelled},
	{"OfflineConcurrent", testOfflineConcurrent},
	{"HaveOffline", testHaveOffline},
	{"VCard", testVCard},
	{"Private", testPrivate},
	{"BlockList", testBlockList},
	{"ArchiveQuery", testArchiveQuery},
	{"ArchiveBothSides", testArchiveBothSides},
	{"ArchiveConcurrent", testArchiveConcurrent},
	{"ArchivePrefs", testArchivePrefs},
	{"SMSessions", testSMSessions},
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
