package directory

import (
	"time"

	"github.com/parley-im/parley/router"
)

// keeps decides, when node publishes a binding of a full JID (bound at
// bound, as m says) and this node already routes that full JID to old (a
// local session or another node's), whether old stays and the new binding
// is ignored. Every node decides the same for the same two bindings, so
// when each side of a healed partition learns the other's binding, exactly
// one of them survives everywhere, and its node alone closes the loser's
// stream:
//
//   - a later message of the same node replaces its earlier binding (one
//     node's messages arrive in order);
//   - a binding made by replacing old, knowingly (m names old), wins: it is
//     RFC 6120 §7.7.2.2's "the new session replaces the old";
//   - otherwise the two were made without knowledge of each other, and the
//     later bind time wins, the greater node name breaking a tie. Bind
//     times come from each node's clock: with skew between the nodes the
//     earlier binding may win, but all nodes still agree on it.
func (d *Directory) keeps(old *router.Session, node string, bound time.Time, m dirMsg) bool {
	oldNode := old.Node()
	if old.IsLocal() {
		oldNode = d.name
	}
	if oldNode == node {
		return false
	}
	if m.Replaces == oldNode && m.ReplacesAt == old.Bound().UnixNano() {
		return false
	}
	return later(old.Bound(), oldNode, bound, node)
}

// later reports whether the binding (at, node) is later than (at2, node2):
// bind time first, node name to break a tie.
func later(at time.Time, node string, at2 time.Time, node2 string) bool {
	if !at.Equal(at2) {
		return at.After(at2)
	}
	return node > node2
}
