package jid

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in, want            string
		local, domain, rsrc string
	}{
		// RFC 7622 §3.5, examples of valid JIDs.
		{in: "juliet@example.com", local: "juliet", domain: "example.com"},
		{in: "juliet@example.com/foo", local: "juliet", domain: "example.com", rsrc: "foo"},
		{in: "juliet@example.com/foo bar", local: "juliet", domain: "example.com", rsrc: "foo bar"},
		{in: "juliet@example.com/foo@bar", local: "juliet", domain: "example.com", rsrc: "foo@bar"},
		{in: `foo\20bar@example.com`, local: `foo\20bar`, domain: "example.com"},
		{in: "fussball@example.com", local: "fussball", domain: "example.com"},
		{in: "fußball@example.com", local: "fußball", domain: "example.com"},
		{in: "π@example.com", local: "π", domain: "example.com"},
		{in: "Σ@example.com/foo", want: "σ@example.com/foo", local: "σ", domain: "example.com", rsrc: "foo"},
		{in: "σ@example.com/foo", local: "σ", domain: "example.com", rsrc: "foo"},
		{in: "ς@example.com/foo", local: "ς", domain: "example.com", rsrc: "foo"},
		{in: "king@example.com/♚", local: "king", domain: "example.com", rsrc: "♚"},
		{in: "example.com", domain: "example.com"},
		{in: "example.com/foobar", domain: "example.com", rsrc: "foobar"},
		{in: "a.example.com/b@example.net", domain: "a.example.com", rsrc: "b@example.net"},

		// Case, width and trailing dots.
		{in: "Juliet@Example.COM/Balcony", want: "juliet@example.com/Balcony", local: "juliet", domain: "example.com", rsrc: "Balcony"},
		{in: "ＪＵＬＩＥＴ@ｅｘａｍｐｌｅ.com", want: "juliet@example.com", local: "juliet", domain: "example.com"},
		{in: "juliet@example.com.", want: "juliet@example.com", local: "juliet", domain: "example.com"},
		{in: "juliet@example。com", want: "juliet@example.com", local: "juliet", domain: "example.com"},
		{in: "example.com./r", want: "example.com/r", domain: "example.com", rsrc: "r"},
		// Only ASCII spaces survive in a resource.
		{in: "example.com/a\u00a0b", want: "example.com/a b", domain: "example.com", rsrc: "a b"},
		{in: "example.com/ ", domain: "example.com", rsrc: " "},
		{in: "example.com/Ａ", domain: "example.com", rsrc: "Ａ"},
		// A '/' before any '@' ends the domain.
		{in: "a/b@c", domain: "a", rsrc: "b@c"},
		{in: "a@b/c/d", local: "a", domain: "b", rsrc: "c/d"},

		// Internationalised domains: A-labels become U-labels.
		{in: "juliet@xn--bcher-kva.example", want: "juliet@bücher.example", local: "juliet", domain: "bücher.example"},
		{in: "juliet@BÜCHER.example", want: "juliet@bücher.example", local: "juliet", domain: "bücher.example"},
		{in: "例え.テスト", domain: "例え.テスト"},

		// IP literals.
		{in: "juliet@127.0.0.1/r", local: "juliet", domain: "127.0.0.1", rsrc: "r"},
		{in: "juliet@[::1]", local: "juliet", domain: "[::1]"},
		{in: "[2001:DB8:0::1]/x", want: "[2001:db8::1]/x", domain: "[2001:db8::1]", rsrc: "x"},
		{in: "[::1].", want: "[::1]", domain: "[::1]"},

		// Punctuation the localpart may keep.
		{in: "a.b-c_d+e!#$%*=?^`{|}~@example.com", local: "a.b-c_d+e!#$%*=?^`{|}~", domain: "example.com"},
		{in: "x--y.example", domain: "x--y.example"},
		{in: "1.2.3.example", domain: "1.2.3.example"},

		// Limits are in bytes after enforcement.
		{in: strings.Repeat("a", 1023) + "@example.com", local: strings.Repeat("a", 1023), domain: "example.com"},
		{in: "example.com/" + strings.Repeat("r", 1023), domain: "example.com", rsrc: strings.Repeat("r", 1023)},
		{in: strings.Repeat("A", 1023) + "@example.com", want: strings.Repeat("a", 1023) + "@example.com", local: strings.Repeat("a", 1023), domain: "example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			j, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if j.String() != want {
				t.Errorf("String() = %q, want %q", j.String(), want)
			}
			if j.Local() != tt.local || j.Domain() != tt.domain || j.Resource() != tt.rsrc {
				t.Errorf("parts = %q %q %q, want %q %q %q", j.Local(), j.Domain(), j.Resource(), tt.local, tt.domain, tt.rsrc)
			}
			n, err := New(tt.local, tt.domain, tt.rsrc)
			if err != nil || n != j {
				t.Errorf("New(parts) = %v, %v; want %v", n, err, j)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		// RFC 7622 §3.5, examples of invalid JIDs.
		{"double at", "juliet@@example.com"},
		{"empty local", "@example.com"},
		{"empty resource", "juliet@example.com/"},
		{"quotes in local", `"juliet"@example.com`},
		{"space in local", "foo bar@example.com"},
		{"compatibility char in local", "henry\u2163@example.com"},
		{"symbol in local", "♚@example.com"},
		{"empty domain after local", "juliet@"},
		{"empty domain before resource", "/foobar"},

		{"empty", ""},
		{"only at", "@"},
		{"only slash", "/"},
		{"at and slash", "@/"},
		{"ampersand", "a&b@example.com"},
		{"apostrophe", "a'b@example.com"},
		{"colon", "a:b@example.com"},
		{"less than", "a<b@example.com"},
		{"greater than", "a>b@example.com"},
		{"fullwidth at folds to at", "a＠b@example.com"},
		{"fullwidth solidus folds to slash", "a／b@example.com"},
		{"control in local", "a\x00b@example.com"},
		{"control in resource", "example.com/a\tb"},
		{"bad utf-8 in local", "a\xffb@example.com"},
		{"bad utf-8 in domain", "example\xff.com"},
		{"bad utf-8 in resource", "example.com/\xff"},
		{"zero width space in local", "a\u200bb@example.com"},
		{"rtl and ltr mixed", "\u05d0a@example.com"},

		{"underscore in domain", "foo_bar.example"},
		{"space in domain", "foo bar.example"},
		{"leading hyphen", "-foo.example"},
		{"trailing hyphen", "foo-.example"},
		{"reserved hyphens", "ab--cd.example"},
		{"ascii A-label", "xn--abc-.example"},
		{"bad punycode", "xn--a.example"},
		{"empty label", "a..b"},
		{"leading dot", ".example"},
		{"two trailing dots", "example.."},
		{"only dot", "."},
		{"mapped dot twice", "example.。"},

		{"IPv4 in brackets", "[127.0.0.1]"},
		{"unterminated IP literal", "[::1"},
		{"zone in IP literal", "[fe80::1%eth0]"},
		{"junk after IP literal", "[::1]x"},
		{"IPvFuture", "[v1.x]"},

		{"local too long", strings.Repeat("a", 1024) + "@example.com"},
		{"local too long after folding", strings.Repeat("é", 512) + "@example.com"},
		{"resource too long", "example.com/" + strings.Repeat("r", 1024)},
		{"domain too long", strings.Repeat("abcdefg.", 128) + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tt.in, j)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) error %v does not wrap ErrMalformed", tt.in, err)
			}
		})
	}
}

func TestParseFastPathShares(t *testing.T) {
	for _, s := range []string{"juliet@example.com/balcony", "example.com", "a@b", "b/c"} {
		if _, ok := parseFast(s); !ok {
			t.Errorf("parseFast(%q) declined canonical ASCII", s)
		}
	}
	for _, s := range []string{"Juliet@example.com", "example.com.", "xn--bcher-kva.example", "[::1]", "a@b@c", "a@", "a/"} {
		if _, ok := parseFast(s); ok {
			t.Errorf("parseFast(%q) accepted input it must leave to PRECIS", s)
		}
	}
}

func TestParseFastDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Parse("juliet@example.com/balcony"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse of canonical ASCII allocates %v times", allocs)
	}
}
