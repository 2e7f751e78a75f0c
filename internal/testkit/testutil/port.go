package testutil

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago, for
// listeners whose address other processes must know in advance (cluster
// routes). It picks from 20000-31999, below Linux's ephemeral range
// (32768-60999), so that the outgoing connections of tests running in
// parallel cannot take it between this check and the real listen, as they
// can with a port the kernel handed out for ":0".
func FreePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			_ = l.Close()
			return p
		}
	}
	t.Fatal("testutil: no free port in 20000-31999")
	return 0
}
