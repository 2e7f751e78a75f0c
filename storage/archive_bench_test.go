package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkArchiveParallel archives messages from many goroutines as the
// core does: each one for its sender and its recipient (two rows), through
// the archive's group-commit writer ("group") and, for comparison, with
// one transaction per message ("single"). Commits are durable: SQLite
// with synchronous=FULL, PostgreSQL with fsync on and synchronous_commit
// on (its default). msgs/commit is the batch size the writer saw.
func BenchmarkArchiveParallel(b *testing.B) {
	const users = 64
	for _, e := range engines {
		for _, mode := range []string{"group", "single"} {
			b.Run(e.name+"/"+mode, func(b *testing.B) {
				s := open(b, e, e.newDSN(b))
				for i := range users {
					if err := s.CreateAccount(ctx, Account{JID: fmt.Sprintf("user%d@example.org", i)}); err != nil {
						b.Fatal(err)
					}
				}
				stanza := []byte("<message from='user1@example.org/pc' to='user2@example.org' type='chat' id='x'><body>Wherefore art thou?</body></message>")
				archive := s.Archive
				if mode == "single" {
					archive = s.archiveAlone
				}
				var seq atomic.Int64
				before := s.ArchiveStats()
				b.SetParallelism(32) // 64 senders on 2 CPUs; a server has many more
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						from := fmt.Sprintf("user%d@example.org", n%users)
						to := fmt.Sprintf("user%d@example.org", (n+1)%users)
						now := time.Now()
						id := NewArchiveID(now)
						entries := []ArchiveEntry{
							{Owner: from, ID: id, Time: now, With: to, Stanza: stanza},
							{Owner: to, ID: id, Time: now, With: from + "/pc", Stanza: stanza},
						}
						if err := archive(ctx, entries, nil); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				after := s.ArchiveStats()
				if n := after.Batches - before.Batches; n > 0 {
					b.ReportMetric(float64(after.Rows-before.Rows)/float64(n), "msgs/commit")
				}
				b.ReportMetric(float64(after.MaxBatch), "max-msgs/commit")
			})
		}
	}
}

// archiveAlone is Archive without group commit: one transaction per call,
// as a baseline.
func (s *SQL) archiveAlone(ctx context.Context, entries []ArchiveEntry, mark *SMMark) error {
	errs, err := s.archive.tx([]*request[*archiveWrite]{{ctx: ctx, item: &archiveWrite{entries: entries, mark: mark}}})
	if err == nil {
		err = errs[0]
	}
	return s.fail("archive", err)
}
