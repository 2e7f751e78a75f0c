package jid

import "strings"

// Byte classes for the fast path. A byte is in cLocal, cDomain or cResource
// when input made only of such bytes is already canonical for that part:
// PRECIS and IDNA would return it unchanged (the fuzz target holds the fast
// path to this).
const (
	cLocal    = 1 << iota // lowercase ASCII IdentifierClass minus RFC 7622 prohibitions
	cDomain               // lowercase LDH and '.'
	cResource             // printable ASCII and space
	cUpper                // ASCII capitals: not canonical, but plain lowercasing folds them
)

var class = func() (t [256]uint8) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] |= cResource
		if c != ' ' && !('A' <= c && c <= 'Z') && !strings.ContainsRune(localProhibited, rune(c)) {
			t[c] |= cLocal
		}
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' {
			t[c] |= cDomain
		}
		if 'A' <= c && c <= 'Z' {
			t[c] |= cUpper
		}
	}
	return t
}()

// parseFast accepts s only if it is plain ASCII already in canonical form,
// and then returns a JID that shares s's memory. ok is false for anything
// else, valid or not; the caller falls back to enforcing each part.
func parseFast(s string) (j JID, ok bool) {
	if len(s) > 3*maxPart+2 {
		return JID{}, false
	}
	dend := strings.IndexByte(s, '/')
	if dend < 0 {
		dend = len(s)
	} else if !allIn(s[dend+1:], cResource) {
		return JID{}, false
	}
	dstart := strings.IndexByte(s[:dend], '@') + 1
	if dstart > 0 && !allIn(s[:dstart-1], cLocal) {
		return JID{}, false
	}
	if !fastDomain(s[dstart:dend]) {
		return JID{}, false
	}
	return JID{s: s, dstart: uint16(dstart), dend: uint16(dend)}, true
}

// allIn reports whether p is a non-empty part of at most maxPart bytes, all
// in class c.
func allIn(p string, c uint8) bool {
	if p == "" || len(p) > maxPart {
		return false
	}
	for i := 0; i < len(p); i++ {
		if class[p[i]]&c == 0 {
			return false
		}
	}
	return true
}

// foldASCII returns s in lower case if it is a non-empty part of at most
// maxPart bytes, each in class c or a capital letter: for such input, PRECIS
// case mapping and UTS #46 mapping both come down to ASCII lowercasing.
func foldASCII(s string, c uint8) (string, bool) {
	if !allIn(s, c|cUpper) {
		return "", false
	}
	return strings.ToLower(s), true
}

// fastDomain reports whether d is lowercase LDH labels that IDNA leaves as
// they are: no empty labels, no hyphen at either end of a label, and no
// "--" in the third and fourth places (which also sends A-labels, "xn--",
// to the slow path to become U-labels).
func fastDomain(d string) bool {
	if !allIn(d, cDomain) {
		return false
	}
	for len(d) > 0 {
		label := d
		if i := strings.IndexByte(d, '.'); i >= 0 {
			label, d = d[:i], d[i+1:]
			if d == "" {
				return false // trailing dot: not canonical
			}
		} else {
			d = ""
		}
		n := len(label)
		if n == 0 || label[0] == '-' || label[n-1] == '-' || n >= 4 && label[2] == '-' && label[3] == '-' {
			return false
		}
	}
	return true
}
