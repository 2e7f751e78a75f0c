package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/parley-im/parley/jid"
)

// components checks the external components: each needs a domain of its
// own (a canonical domain JID, none of the server's hosts, listed once)
// and a secret.
func (v *validator) components(list []Component, hosts []string) {
	seen := map[string]int{}
	for i, c := range list {
		key := fmt.Sprintf("components[%d]", i)
		j, err := jid.Parse(c.Domain)
		switch {
		case c.Domain == "":
			v.add(key+".domain", "must not be empty")
		case err != nil:
			v.add(key+".domain", "%q is not a valid domain: %v", c.Domain, err)
		case j.Local() != "" || j.Resource() != "":
			v.add(key+".domain", "%q must be a domain, without localpart or resource", c.Domain)
		case j.String() != c.Domain:
			v.add(key+".domain", "%q is not in canonical form; write %q", c.Domain, j.String())
		case slices.Contains(hosts, c.Domain):
			v.add(key+".domain", "%q is one of the server's hosts; a component needs a domain of its own, e.g. push.%s", c.Domain, c.Domain)
		default:
			if first, dup := seen[c.Domain]; dup {
				v.add(key+".domain", "%q is already used by components[%d]", c.Domain, first)
			} else {
				seen[c.Domain] = i
			}
		}
		if c.Secret == "" {
			v.add(key+".secret", "must not be empty: the component proves itself with it (XEP-0114 handshake)")
		}
	}
}

// parseComponent reads one component from the environment: domain=secret.
// The secret is everything after the first '=' (a domain has none).
func parseComponent(s string) (Component, error) {
	domain, secret, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Component{}, fmt.Errorf("want domain=secret, got %q", s)
	}
	return Component{Domain: domain, Secret: secret}, nil
}

// redactComponents returns a copy of list with the secrets hidden.
func redactComponents(list []Component) []Component {
	if list == nil {
		return nil
	}
	out := make([]Component, len(list))
	for i, c := range list {
		out[i] = Component{Domain: c.Domain, Secret: redacted}
	}
	return out
}
