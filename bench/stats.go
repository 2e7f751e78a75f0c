package bench

import (
	"slices"
	"strconv"
	"sync"
	"time"
)

func itoa(i int) string { return strconv.Itoa(i) }

// div is a/b, or 0 when b is 0, so reports never hold NaN or Inf.
func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the p-th percentile (nearest rank) of sorted values.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return percentile(s, 50)
}

// Distribution summarises durations, in milliseconds.
type Distribution struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// distribution sorts ns in place and summarises it.
func distribution(ns []int64) Distribution {
	if len(ns) == 0 {
		return Distribution{}
	}
	slices.Sort(ns)
	var sum float64
	for _, v := range ns {
		sum += float64(v)
	}
	f := func(v int64) float64 { return float64(v) / 1e6 }
	return Distribution{
		Count: len(ns),
		Mean:  sum / float64(len(ns)) / 1e6,
		P50:   f(percentile(ns, 50)),
		P90:   f(percentile(ns, 90)),
		P99:   f(percentile(ns, 99)),
		Max:   f(ns[len(ns)-1]),
	}
}

// maxKinds bounds the distinct error texts a tally keeps; the rest are
// counted under "other".
const maxKinds = 10

// tally counts errors by text. Safe for concurrent use.
type tally struct {
	mu       sync.Mutex
	n        int
	kinds    map[string]int
	firstErr string
}

func (t *tally) add(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if t.kinds == nil {
		t.kinds = map[string]int{}
	}
	k := err.Error()
	if _, ok := t.kinds[k]; !ok && len(t.kinds) >= maxKinds {
		k = "other"
	}
	t.kinds[k]++
	if t.firstErr == "" {
		t.firstErr = err.Error()
	}
}

// first is the text of the first error added.
func (t *tally) first() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.firstErr
}

func (t *tally) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// errors returns a copy of the counts by text, nil when none.
func (t *tally) errors() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.kinds) == 0 {
		return nil
	}
	out := make(map[string]int, len(t.kinds))
	for k, v := range t.kinds {
		out[k] = v
	}
	return out
}
