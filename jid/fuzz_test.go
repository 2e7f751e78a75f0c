package jid

import (
	"testing"
	"unicode/utf8"
)

// FuzzParse holds the fast path and the per-part shortcuts to the reference
// parser, which always runs PRECIS and IDNA, and checks that every accepted
// JID is a fixed point of parsing.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"juliet@example.com/balcony", "Juliet@Example.COM/Balcony", "example.com",
		"a/b@c", "π@example.com", "Σ@example.com/♚", "juliet@xn--bcher-kva.example",
		"[::1]/r", "example.com./ ", "a@b@c", "@", "/", "fußball@例え.テスト",
		"ＪＵＬＩＥＴ@example。com", "a\u0301@example.com", "x--y.ab--c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Longer input is refused by the same length checks the table tests
		// cover; keeping it out keeps the fuzzer's minimisation quick.
		if len(s) > 4*maxPart {
			return
		}
		j, err := Parse(s)
		ref, refErr := reference.parse(s)
		if (err == nil) != (refErr == nil) || j != ref {
			t.Fatalf("Parse(%q) = %q, %v; reference = %q, %v", s, j, err, ref, refErr)
		}
		for _, p := range []struct {
			name        string
			quick, full func(string) (string, error)
		}{
			{"local", quick.local, reference.local},
			{"domain", quick.domain, reference.domain},
			{"resource", quick.resource, reference.resource},
		} {
			q, qErr := p.quick(s)
			r, rErr := p.full(s)
			if (qErr == nil) != (rErr == nil) || q != r {
				t.Fatalf("%s part %q: quick = %q, %v; reference = %q, %v", p.name, s, q, qErr, r, rErr)
			}
		}
		if fj, ok := parseFast(s); ok && fj.String() != s {
			t.Fatalf("fast path accepted non-canonical %q as %q", s, fj)
		}
		if err != nil {
			return
		}
		again, err := Parse(j.String())
		if err != nil || again != j {
			t.Fatalf("Parse(%q) = %q, but Parse of that = %q, %v", s, j, again, err)
		}
		if n, err := New(j.Local(), j.Domain(), j.Resource()); err != nil || n != j {
			t.Fatalf("New(parts of %q) = %q, %v", j, n, err)
		}
		for _, p := range []string{j.Local(), j.Domain(), j.Resource()} {
			if len(p) > maxPart || !utf8.ValidString(p) {
				t.Fatalf("Parse(%q) gave bad part %q", s, p)
			}
		}
		if j.Domain() == "" || !j.Bare().IsBare() || j.Bare().Resource() != "" {
			t.Fatalf("Parse(%q) = %q: bad structure", s, j)
		}
	})
}
