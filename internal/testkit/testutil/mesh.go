package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Loopback addresses of a Mesh. Linux routes all of 127.0.0.0/8 to the
// loopback interface.
const (
	meshNodeIP  = "127.0.0.2" // the nodes' route listeners
	meshProxyIP = "127.0.0.3" // the proxies listen here and dial from here
)

// Mesh carries the NATS routes of an n-node cluster through one Proxy per
// ordered pair of nodes, so that a test can cut any pair: node i lists
// node j as a peer only at the address of proxy (i, j).
//
// NATS servers tell each other the route address of every server they
// meet ("gossip"), made of the IP the route came from and the port the
// server listens on, and a server dials a gossiped address when it is not
// connected to that server yet, which would open a route around the
// proxies. So the nodes listen on 127.0.0.2 and the proxies listen on,
// and dial from, 127.0.0.3: every gossiped address is 127.0.0.3 with a
// node's port, where nothing listens (the proxies' ports come from the
// ephemeral range, the nodes' from below it), and a gossip dial is
// refused. Nodes reach each other only through their configured proxies.
type Mesh struct {
	listen  []string
	proxies [][]*Proxy // [i][j]: node i dials node j through it; nil if i == j
}

// NewMesh builds the proxies for n nodes (0-based), closed when the test
// ends. It skips the test where 127.0.0.2 and 127.0.0.3 are not usable.
func NewMesh(t testing.TB, n int) *Mesh {
	t.Helper()
	for _, ip := range []string{meshNodeIP, meshProxyIP} {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Skipf("testutil: the mesh needs %s on loopback: %v", ip, err)
		}
		_ = l.Close()
	}
	m := &Mesh{listen: make([]string, n), proxies: make([][]*Proxy, n)}
	for i := range n {
		m.listen[i] = net.JoinHostPort(meshNodeIP, strconv.Itoa(freePortOn(t, meshNodeIP)))
	}
	for i := range n {
		m.proxies[i] = make([]*Proxy, n)
		for j := range n {
			if i != j {
				m.proxies[i][j] = StartProxy(t, ProxyConfig{
					Listen:   net.JoinHostPort(meshProxyIP, "0"),
					Upstream: m.listen[j],
					Source:   meshProxyIP,
				})
			}
		}
	}
	return m
}

// freePortOn is FreePort for another loopback address.
func freePortOn(t testing.TB, ip string) int {
	t.Helper()
	for range 200 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err == nil {
			_ = l.Close()
			return p
		}
	}
	t.Fatalf("testutil: no free port in 20000-31999 on %s", ip)
	return 0
}

// Listen is node i's route listen address.
func (m *Mesh) Listen(i int) string { return m.listen[i] }

// Peers are node i's route URLs of the other nodes: their proxies.
func (m *Mesh) Peers(i int) []string {
	var out []string
	for j, p := range m.proxies[i] {
		if j != i {
			out = append(out, "nats://"+p.Addr())
		}
	}
	return out
}

// Proxy is the proxy node i dials node j through.
func (m *Mesh) Proxy(i, j int) *Proxy { return m.proxies[i][j] }

// Cut separates nodes i and j, both ways; the others are untouched.
func (m *Mesh) Cut(i, j int) {
	m.proxies[i][j].Cut()
	m.proxies[j][i].Cut()
}

// Heal joins nodes i and j again.
func (m *Mesh) Heal(i, j int) {
	m.proxies[i][j].Heal()
	m.proxies[j][i].Heal()
}

// Split cuts every node of side from every node not in it.
func (m *Mesh) Split(side ...int) {
	in := make(map[int]bool, len(side))
	for _, i := range side {
		if i < 0 || i >= len(m.proxies) {
			panic(fmt.Sprintf("testutil: no node %d in a mesh of %d", i, len(m.proxies)))
		}
		in[i] = true
	}
	for i := range in {
		for j := range m.proxies {
			if !in[j] {
				m.Cut(i, j)
			}
		}
	}
}

// HealAll joins every pair again.
func (m *Mesh) HealAll() {
	for i := range m.proxies {
		for j := i + 1; j < len(m.proxies); j++ {
			m.Heal(i, j)
		}
	}
}
