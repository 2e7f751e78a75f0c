package jid

import (
	"fmt"
	"strings"
)

// Parse parses s as a JID and returns it in canonical form.
//
// s is split as RFC 7622 §3.1 says: everything after the first '/' is the
// resourcepart, then everything before the first '@' is the localpart. A
// separator with nothing on its far side is an error, as is an empty domain.
// Canonical ASCII input is returned without copying, so the JID shares s's
// memory.
func Parse(s string) (JID, error) {
	if j, ok := parseFast(s); ok {
		return j, nil
	}
	return quick.parse(s)
}

// MustParse is like Parse but panics on error. It is for constants in tests
// and configuration defaults, never for network input.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return j
}

// New builds a JID from its parts, enforcing each one. An empty local or
// resource means the part is absent; the domain is required.
func New(local, domain, resource string) (JID, error) {
	return quick.build(local, domain, resource)
}

// enforcer prepares the three parts of a JID.
type enforcer struct {
	local, domain, resource func(string) (string, error)
}

var (
	// quick skips PRECIS or IDNA for each part that is already canonical
	// ASCII, so "Juliet@example.com" pays only for the localpart.
	quick = enforcer{prepLocal, prepDomain, prepResource}
	// reference always runs the full enforcement; tests hold quick and the
	// fast path to it.
	reference = enforcer{enforceLocal, enforceDomain, enforceResource}
)

// parse splits s and builds the JID.
func (e enforcer) parse(s string) (JID, error) {
	if s == "" {
		return JID{}, errZero
	}
	rest, resource, hasRes := strings.Cut(s, "/")
	if hasRes && resource == "" {
		return JID{}, errEmptyResource
	}
	local, domain, hasLocal := strings.Cut(rest, "@")
	if !hasLocal {
		local, domain = "", rest
	} else if local == "" {
		return JID{}, errEmptyLocal
	}
	return e.build(local, domain, resource)
}

func (e enforcer) build(local, domain, resource string) (JID, error) {
	var err error
	if local != "" {
		if local, err = e.local(local); err != nil {
			return JID{}, err
		}
	}
	if domain, err = e.domain(domain); err != nil {
		return JID{}, err
	}
	if resource != "" {
		if resource, err = e.resource(resource); err != nil {
			return JID{}, err
		}
	}
	return assemble(local, domain, resource), nil
}

var (
	errZero          = fmt.Errorf("%w: empty JID", ErrMalformed)
	errEmptyLocal    = fmt.Errorf("%w: empty localpart before '@'", ErrMalformed)
	errEmptyResource = fmt.Errorf("%w: empty resourcepart after '/'", ErrMalformed)
)

// partError reports a part that failed enforcement.
func partError(part string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrMalformed, part, err)
}
