package directory

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/parley-im/parley/router"
)

// A session's interests travel in its directory messages and land on the
// other node's entry, on bind and on every update.
func TestInterestsReplicated(t *testing.T) {
	here := router.New()
	local, _, err := here.Bind(full, nopConn{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	there := &Directory{name: "n2", router: router.New(), log: slog.New(slog.DiscardHandler)}

	send := func(op string) {
		t.Helper()
		m := dirMsg{Op: op, Run: "run-n1", JID: full.String(), Bound: local.Bound().UnixNano()}
		(&Directory{}).fillState(&m, local)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var got dirMsg
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		there.apply("n1", full, got)
	}
	steps := []struct {
		op   string
		add  router.Interests
		want router.Interests
	}{
		{"bind", 0, 0},
		{"update", router.BlockListInterest, router.BlockListInterest},
		{"update", router.RosterInterest, router.RosterInterest | router.BlockListInterest},
	}
	for _, st := range steps {
		local.AddInterests(st.add)
		send(st.op)
		e := there.router.Remote(full, "n1")
		if e == nil {
			t.Fatalf("after %s: no remote entry", st.op)
		}
		if got := e.Interests(); got != st.want {
			t.Errorf("after %s adding %b: remote interests %b, want %b", st.op, st.add, got, st.want)
		}
	}
}
