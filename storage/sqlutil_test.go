package storage

import (
	"reflect"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, sqlite, pg string }{
		{"SELECT 1", "SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
	} {
		if got := dialectSQLite.q(tc.in); got != tc.sqlite {
			t.Errorf("sqlite q(%q) = %q", tc.in, got)
		}
		for range 2 { // the second comes from the cache
			if got := dialectPostgres.q(tc.in); got != tc.pg {
				t.Errorf("postgres q(%q) = %q, want %q", tc.in, got, tc.pg)
			}
		}
	}
}

func TestPlaceholders(t *testing.T) {
	if got := marks(3); got != "?, ?, ?" {
		t.Errorf("marks(3) = %q", got)
	}
	if got := rowMarks(2, 3); got != "(?, ?, ?), (?, ?, ?)" {
		t.Errorf("rowMarks(2, 3) = %q", got)
	}
	for _, tc := range []struct {
		in   []string
		want []any
	}{
		{[]string{"a"}, []any{"a"}},
		{[]string{"a", "b"}, []any{"a", "b"}},
		{[]string{"a", "b", "c"}, []any{"a", "b", "c", "c"}},
		{[]string{"a", "b", "c", "d", "e"}, []any{"a", "b", "c", "d", "e", "e", "e", "e"}},
	} {
		if got := padded(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("padded(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 4, 255: 128, 256: 256} {
		if got := pow2Floor(n); got != want {
			t.Errorf("pow2Floor(%d) = %d, want %d", n, got, want)
		}
	}
}
