package jid

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// localProhibited are the characters RFC 7622 §3.3.1 forbids in a localpart
// on top of the PRECIS IdentifierClass.
const localProhibited = "\"&'/:<>@"

// domainProfile is IDNA2008 lookup processing with UTS #46 mapping (case,
// width, NFC, as RFC 5895 suggests) and every validity check enabled. It is
// spelled out rather than taken from idna.Lookup, whose options may change.
var domainProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(true),
	idna.CheckHyphens(true),
	idna.CheckJoiners(true),
	idna.BidiRule(),
)

var (
	errTooLong    = errors.New("longer than 1023 bytes")
	errEmpty      = errors.New("empty")
	errEmptyLabel = errors.New("empty label")
	errUnstable   = errors.New("enforcement is not idempotent")
	errUTF8       = errors.New("invalid UTF-8")
)

// prepLocal, prepDomain and prepResource return canonical ASCII unchanged,
// lowercase ASCII that only differs from canonical in case, and send anything
// else through full enforcement.
func prepLocal(s string) (string, error) {
	if allIn(s, cLocal) {
		return s, nil
	}
	if l, ok := foldASCII(s, cLocal); ok {
		return l, nil
	}
	return enforceLocal(s)
}

func prepDomain(s string) (string, error) {
	if fastDomain(s) {
		return s, nil
	}
	if l, ok := foldASCII(s, cDomain); ok && fastDomain(l) {
		return l, nil
	}
	return enforceDomain(s)
}

func prepResource(s string) (string, error) {
	if allIn(s, cResource) {
		return s, nil
	}
	return enforceResource(s)
}

// enforceLocal enforces a non-empty localpart.
func enforceLocal(s string) (string, error) {
	out, err := stable(s, precis.UsernameCaseMapped.String)
	switch {
	case err != nil:
		return "", partError("localpart", err)
	case out == "":
		return "", partError("localpart", errEmpty)
	case len(out) > maxPart:
		return "", partError("localpart", errTooLong)
	}
	if i := strings.IndexAny(out, localProhibited); i >= 0 {
		return "", partError("localpart", fmt.Errorf("character %q not allowed", out[i]))
	}
	return out, nil
}

// enforceResource enforces a non-empty resourcepart.
func enforceResource(s string) (string, error) {
	out, err := stable(s, precis.OpaqueString.String)
	switch {
	case err != nil:
		return "", partError("resourcepart", err)
	case out == "":
		return "", partError("resourcepart", errEmpty)
	case len(out) > maxPart:
		return "", partError("resourcepart", errTooLong)
	}
	return out, nil
}

// enforceDomain enforces a domainpart: an IPv6 literal in brackets, or a domain
// name whose labels are NR-LDH labels or U-labels. One trailing dot is
// dropped (RFC 7622 §3.2).
func enforceDomain(s string) (string, error) {
	if strings.HasPrefix(s, "[") {
		return enforceIPv6(strings.TrimSuffix(s, "."))
	}
	out, err := stable(s, domainProfile.ToUnicode)
	if err != nil {
		return "", partError("domainpart", err)
	}
	out = strings.TrimSuffix(out, ".")
	switch {
	case out == "":
		return "", partError("domainpart", errEmpty)
	case len(out) > maxPart:
		return "", partError("domainpart", errTooLong)
	case out[0] == '.' || out[len(out)-1] == '.' || strings.Contains(out, ".."):
		return "", partError("domainpart", errEmptyLabel)
	}
	return out, nil
}

// enforceIPv6 canonicalises an IP-literal (RFC 3986 without IPvFuture).
func enforceIPv6(s string) (string, error) {
	inner, ok := strings.CutSuffix(s[1:], "]")
	if !ok {
		return "", partError("domainpart", errors.New("unterminated IP literal"))
	}
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", partError("domainpart", fmt.Errorf("bad IPv6 literal %q", inner))
	}
	return "[" + a.String() + "]", nil
}

// stable applies f until its output stops changing, so that every accepted
// part is a fixed point and Parse(j.String()) == j. Canonical input returns
// after one call. PRECIS profiles are not idempotent for every string
// (RFC 8264 §7); a string that has not settled after a few rounds is refused.
func stable(s string, f func(string) (string, error)) (string, error) {
	// Checked here because OpaqueString maps bad bytes to U+FFFD instead of
	// refusing them.
	if !utf8.ValidString(s) {
		return "", errUTF8
	}
	for range 4 {
		out, err := f(s)
		if err != nil {
			return "", err
		}
		if out == s {
			return out, nil
		}
		s = out
	}
	return "", errUnstable
}
