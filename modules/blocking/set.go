package blocking

import "github.com/parley-im/parley/jid"

// set is a block list: canonical JID strings.
type set map[string]struct{}

func newSet(list []string) set {
	s := make(set, len(list))
	for _, j := range list {
		s[j] = struct{}{}
	}
	return s
}

func (s set) with(items []jid.JID) set {
	out := make(set, len(s)+len(items))
	for j := range s {
		out[j] = struct{}{}
	}
	for _, j := range items {
		out[j.String()] = struct{}{}
	}
	return out
}

func (s set) without(items []jid.JID) set {
	out := make(set, len(s))
	for j := range s {
		out[j] = struct{}{}
	}
	for _, j := range items {
		delete(out, j.String())
	}
	return out
}

// blocks reports whether the list blocks who, matching in the order of
// XEP-0191 §6: user@domain/resource, user@domain, domain/resource, domain.
func (s set) blocks(who jid.JID) bool {
	if len(s) == 0 {
		return false
	}
	if _, ok := s[who.String()]; ok {
		return true
	}
	if _, ok := s[who.Bare().String()]; ok {
		return true
	}
	if r := who.Resource(); r != "" {
		if _, ok := s[who.Domain()+"/"+r]; ok {
			return true
		}
	}
	_, ok := s[who.Domain()]
	return ok
}
