package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStoreOfflineParallel stores offline messages from many
// goroutines, through the group-commit writer ("group") and, for
// comparison, with one transaction per message ("single"). Each engine
// commits durably: SQLite with synchronous=FULL, PostgreSQL with fsync on.
func BenchmarkStoreOfflineParallel(b *testing.B) {
	const owners = 64
	for _, e := range engines {
		for _, mode := range []string{"group", "single"} {
			b.Run(e.name+"/"+mode, func(b *testing.B) {
				s := open(b, e, e.newDSN(b))
				for i := range owners {
					if err := s.CreateAccount(ctx, Account{JID: fmt.Sprintf("user%d@example.org", i)}); err != nil {
						b.Fatal(err)
					}
				}
				stanza := []byte("<message from='romeo@montague.example/orchard' to='juliet@capulet.example' type='chat'><body>Wherefore art thou?</body></message>")
				var seq atomic.Int64
				store := s.StoreOffline
				if mode == "single" {
					store = s.storeOfflineAlone
				}
				before := s.Stats()
				b.SetParallelism(32) // 64 senders on 2 CPUs; a server has many more
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						owner := fmt.Sprintf("user%d@example.org", seq.Add(1)%owners)
						if err := store(ctx, owner, stanza, 0); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				after := s.Stats()
				if n := after.Batches - before.Batches; n > 0 {
					b.ReportMetric(float64(after.Rows-before.Rows)/float64(n), "rows/commit")
				}
			})
		}
	}
}

// storeOfflineAlone is StoreOffline without group commit: the caller runs
// its own transaction, as a baseline.
func (s *SQL) storeOfflineAlone(ctx context.Context, owner string, stanza []byte, limit int) error {
	m := &offlineMsg{owner: owner, stanza: stanza, limit: limit, stored: time.Now()}
	errs, err := s.offline.tx([]*request[*offlineMsg]{{ctx: ctx, item: m}})
	if err == nil {
		err = errs[0]
	}
	return s.fail("store offline", err)
}
