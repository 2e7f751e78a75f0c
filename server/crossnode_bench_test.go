package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// Message routing between clients, on one node and across two nodes of a
// cluster (real embedded NATS, real PostgreSQL), in one process: the
// figure includes both ends' client work, so compare the two benchmarks
// with each other (and see bench/cluster.sh for the servers alone).
//
//	go test -run '^$' -bench 'Message(Local|CrossNode)' -benchtime 20000x ./server
func BenchmarkMessageLocal(b *testing.B)     { benchMessages(b, false) }
func BenchmarkMessageCrossNode(b *testing.B) { benchMessages(b, true) }

func benchMessages(b *testing.B, cross bool) {
	const pairs, window = 20, 8
	c := startDrainCluster(b, 2, false, nil)
	recvNode := 0
	if cross {
		recvNode = 1
	}
	type pair struct {
		from, to *xmppclient.Client
		toJID    string
		inFlight chan struct{}
	}
	ps := make([]*pair, pairs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range ps {
		from, to := fmt.Sprintf("bs%d", i), fmt.Sprintf("br%d", i)
		c.node(0).AddUser(from+"@"+crossDomain, crossPassword)
		c.node(0).AddUser(to+"@"+crossDomain, crossPassword)
		fc, err := dialAt(ctx, c.addr(0), from, "b")
		if err != nil {
			b.Fatal(err)
		}
		tc, err := dialAt(ctx, c.addr(recvNode), to, "b")
		if err != nil {
			b.Fatal(err)
		}
		p := &pair{from: fc, to: tc, toJID: tc.JID().String(), inFlight: make(chan struct{}, window)}
		ps[i] = p
		fc.StartReader(ctx, func(*stanza.Element) {})
		tc.StartReader(ctx, func(el *stanza.Element) {
			if el.Name == "message" {
				<-p.inFlight
			}
		})
		b.Cleanup(func() { _ = fc.Close(); _ = tc.Close() })
	}
	// Wait until node 1 routes to every recipient (cross: the directory).
	for _, p := range ps {
		p.inFlight <- struct{}{}
		if err := p.from.Send(stanza.New("message", stanza.NSClient, "to", p.toJID, "type", "chat").Append(stanza.New("body", stanza.NSClient).SetText("warm-up"))); err != nil {
			b.Fatal(err)
		}
	}
	waitUntil(b, crossWait, "warm-up messages delivered", func() bool {
		for _, p := range ps {
			if len(p.inFlight) > 0 {
				return false
			}
		}
		return true
	})
	body := stanza.New("body", stanza.NSClient).SetText("the quick brown fox jumps over the lazy dog")
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, p := range ps {
		n := b.N / pairs
		if i < b.N%pairs {
			n++
		}
		msg := stanza.New("message", stanza.NSClient, "to", p.toJID, "type", "chat").Append(body)
		wg.Go(func() {
			for range n {
				p.inFlight <- struct{}{}
				if err := p.from.Send(msg); err != nil {
					b.Error(err)
					return
				}
			}
			for range window { // the last ones delivered
				p.inFlight <- struct{}{}
			}
		})
	}
	wg.Wait()
}
