package jid

import (
	"errors"
	"strings"
)

// ErrMalformed is wrapped by every error this package returns for input that
// is not a valid JID; the XMPP condition for it is jid-malformed.
var ErrMalformed = errors.New("jid: malformed address")

// maxPart is the RFC 7622 limit, in bytes, on each of the three parts after
// enforcement.
const maxPart = 1023

// JID is an XMPP address in canonical form. The zero value is the empty
// address (no domain), which Parse never returns.
//
// It keeps the canonical string and the bounds of the domainpart inside it,
// so String, Bare and the part accessors are free.
type JID struct {
	s      string // local@domain/resource, canonical
	dstart uint16 // index of the domainpart in s; 0 when there is no localpart
	dend   uint16 // index just after the domainpart; len(s) when bare
}

// Local returns the localpart, or "" when there is none.
func (j JID) Local() string {
	if j.dstart == 0 {
		return ""
	}
	return j.s[:j.dstart-1]
}

// Domain returns the domainpart.
func (j JID) Domain() string { return j.s[j.dstart:j.dend] }

// Resource returns the resourcepart, or "" when there is none.
func (j JID) Resource() string {
	if int(j.dend) == len(j.s) {
		return ""
	}
	return j.s[j.dend+1:]
}

// Bare returns j without its resourcepart.
func (j JID) Bare() JID { return JID{s: j.s[:j.dend], dstart: j.dstart, dend: j.dend} }

// DomainJID returns the domain-only JID of j (no localpart, no resource),
// the address of the server or service hosting j.
func (j JID) DomainJID() JID {
	return JID{s: j.Domain(), dstart: 0, dend: j.dend - j.dstart}
}

// IsBare reports whether j has no resourcepart.
func (j JID) IsBare() bool { return int(j.dend) == len(j.s) }

// IsZero reports whether j is the zero JID.
func (j JID) IsZero() bool { return j.s == "" }

// String returns the canonical form "local@domain/resource", with absent parts
// and their separators left out.
func (j JID) String() string { return j.s }

// Equal reports whether j and o are the same address. Both are canonical, so
// this is ==; it exists for readability at call sites.
func (j JID) Equal(o JID) bool { return j == o }

// WithResource returns the bare form of j with resourcepart r. An empty r
// yields the bare JID.
func (j JID) WithResource(r string) (JID, error) {
	if j.IsZero() {
		return JID{}, errZero
	}
	if r == "" {
		return j.Bare(), nil
	}
	rp, err := prepResource(r)
	if err != nil {
		return JID{}, err
	}
	return assemble(j.Local(), j.Domain(), rp), nil
}

// MarshalText implements encoding.TextMarshaler.
func (j JID) MarshalText() ([]byte, error) { return []byte(j.s), nil }

// UnmarshalText implements encoding.TextUnmarshaler. Empty text yields the
// zero JID, so optional addresses round-trip.
func (j *JID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*j = JID{}
		return nil
	}
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*j = p
	return nil
}

// assemble builds a JID from parts already in canonical form.
func assemble(local, domain, resource string) JID {
	var b strings.Builder
	b.Grow(len(local) + len(domain) + len(resource) + 2)
	var j JID
	if local != "" {
		b.WriteString(local)
		b.WriteByte('@')
		j.dstart = uint16(b.Len())
	}
	b.WriteString(domain)
	j.dend = uint16(b.Len())
	if resource != "" {
		b.WriteByte('/')
		b.WriteString(resource)
	}
	j.s = b.String()
	return j
}
