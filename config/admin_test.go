package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestAdminValidate(t *testing.T) {
	tests := []struct {
		name    string
		users   []string
		noHTTP  bool
		want    string // "" for valid
		wantKey string
	}{
		{"nobody by default", nil, false, "", ""},
		{"one admin", []string{"alice@localhost"}, false, "", ""},
		{"two admins", []string{"alice@localhost", "bob@localhost"}, false, "", ""},
		{"not a JID", []string{"alice@"}, false, "is not a valid JID", "admin.users[0]"},
		{"a domain", []string{"localhost"}, false, "must be an account's bare JID", "admin.users[0]"},
		{"a full JID", []string{"alice@localhost/phone"}, false, "must be an account's bare JID", "admin.users[0]"},
		{"not canonical", []string{"Alice@localhost"}, false, `write "alice@localhost"`, "admin.users[0]"},
		{"another domain", []string{"alice@example.org"}, false, "example.org is not one of hosts", "admin.users[0]"},
		{"twice", []string{"alice@localhost", "alice@localhost"}, false, "already admin.users[0]", "admin.users[1]"},
		{"no HTTP listener", []string{"alice@localhost"}, true, "set listeners.http.address", "admin.users"},
		{"no HTTP listener, nobody", nil, true, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Admin.Users = tc.users
			if tc.noHTTP {
				c.Listeners.HTTP.Address = ""
			}
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one on %s containing %q", err, tc.wantKey, tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tc.wantKey || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v: want an *Error on key %s wrapping ErrInvalid", err, tc.wantKey)
			}
		})
	}
}

func TestAdminFromFileAndEnv(t *testing.T) {
	path := writeFile(t, `
admin:
  users: [alice@localhost]
`)
	c, err := load(path, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice@localhost"}; !reflect.DeepEqual(c.Admin.Users, want) {
		t.Fatalf("loaded %+v, want %q", c.Admin, want)
	}
	c, err = load(path, map[string]string{"PARLEY_ADMIN_USERS": "alice@localhost,bob@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice@localhost", "bob@localhost"}; !reflect.DeepEqual(c.Admin.Users, want) {
		t.Fatalf("environment gave %+v, want %q", c.Admin, want)
	}
}
