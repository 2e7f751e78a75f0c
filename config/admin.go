package config

import (
	"fmt"
	"slices"

	"github.com/parley-im/parley/jid"
)

// Admin configures the admin dashboard at /admin on the HTTP listener
// (package admin). Nobody may log in to it until an operator names the
// accounts that may.
type Admin struct {
	// Users are the bare JIDs of local accounts allowed into the
	// dashboard; they log in with their XMPP password. In the
	// environment: PARLEY_ADMIN_USERS=alice@example.com,bob@example.com.
	Users []string `yaml:"users" env:"USERS"`
}

// admin checks the dashboard's administrators: each a local account's
// bare JID in canonical form, listed once; and an HTTP listener to serve
// the dashboard on.
func (v *validator) admin(a Admin, hosts []string, httpAddr string) {
	seen := map[string]int{}
	for i, u := range a.Users {
		key := fmt.Sprintf("admin.users[%d]", i)
		j, err := jid.Parse(u)
		switch {
		case err != nil:
			v.add(key, "%q is not a valid JID: %v", u, err)
		case j.Local() == "" || j.Resource() != "":
			v.add(key, "%q must be an account's bare JID, user@domain", u)
		case j.String() != u:
			v.add(key, "%q is not in canonical form; write %q", u, j.String())
		case !slices.Contains(hosts, j.Domain()):
			v.add(key, "%q is not an account here: %s is not one of hosts", u, j.Domain())
		default:
			if first, dup := seen[u]; dup {
				v.add(key, "%q is already admin.users[%d]", u, first)
			} else {
				seen[u] = i
			}
		}
	}
	if len(a.Users) > 0 && httpAddr == "" {
		v.add("admin.users", "the dashboard is served on the HTTP listener: set listeners.http.address")
	}
}
