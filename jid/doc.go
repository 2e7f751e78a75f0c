// Package jid parses, validates and compares XMPP addresses (JIDs) as defined
// by RFC 7622: the localpart is enforced with the PRECIS UsernameCaseMapped
// profile, the resourcepart with OpaqueString, and the domainpart with IDNA2008
// (UTS #46 mapping, A-labels converted to U-labels, IP literals allowed).
//
// A JID value is always in canonical form, so two JIDs denote the same address
// exactly when they are ==; JID is a small comparable value usable as a map
// key. Parsing is on the hot path of every stanza: input that is already
// canonical lowercase ASCII skips PRECIS and IDNA entirely and does not
// allocate.
//
// The package does not resolve domains, decide which domains are local, or
// escape localparts (XEP-0106); those belong to the router and to clients.
package jid
