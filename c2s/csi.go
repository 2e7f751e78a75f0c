package c2s

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/parley-im/parley/stanza"
)

// Client State Indication (XEP-0352). A client that says it is inactive
// (the phone's screen is off) does not need every presence change of every
// contact at once: while it is inactive, presence is held back, only the
// latest from each sender kept, and so are messages without a body (chat
// states, receipts, markers). Anything else — a message with a body, an
// IQ — first releases what was held, in order, then goes out. Becoming
// active releases everything.

const nsCSI = "urn:xmpp:csi:0"

// csiMaxHeld bounds what is held; beyond it, everything is released.
const csiMaxHeld = 1000

// csiState is a connection's client state, guarded by mu. on is set while
// the client is inactive or something is held, so that deliveries check
// it without the lock.
type csiState struct {
	on       atomic.Bool
	mu       sync.Mutex
	inactive bool
	held     [][]byte       // stanzas held, in arrival order; nil entries were superseded
	presence map[string]int // sender -> index in held of its latest presence
}

// onCSI handles <active/> and <inactive/>.
func (c *conn) onCSI(el *stanza.Element) error {
	switch el.Name {
	case "inactive":
		c.out.csi.mu.Lock()
		c.out.csi.inactive = true
		c.out.csi.on.Store(true)
		c.out.csi.mu.Unlock()
	case "active":
		c.out.csi.mu.Lock()
		c.out.csi.inactive = false
		held := c.takeHeldLocked()
		c.out.csi.mu.Unlock()
		c.release(held)
	default:
		return stanza.NewStreamError(stanza.UnsupportedStanzaType, "unsupported element <"+el.Name+"/> in "+nsCSI)
	}
	return nil
}

// csiHold offers a stanza (serialized) to the client state: it reports
// whether it was held back. Callers check csi.on first, so that without
// CSI in play a delivery costs an atomic load and nothing else.
func (c *conn) csiHold(raw []byte) bool {
	isPresence, urgent, from := classify(raw)
	return c.csiDeliver(raw, isPresence, urgent, from)
}

// csiDeliver decides what happens to a stanza for the client: it reports
// true when the stanza was held back. Otherwise what was held (if
// anything) has been released, and the caller sends the stanza.
func (c *conn) csiDeliver(b []byte, isPresence, urgent bool, from string) bool {
	c.out.csi.mu.Lock()
	if !c.out.csi.inactive && len(c.out.csi.held) == 0 {
		c.out.csi.mu.Unlock()
		return false
	}
	if c.out.csi.inactive && !urgent && len(c.out.csi.held) < csiMaxHeld {
		if isPresence && from != "" {
			if i, ok := c.out.csi.presence[from]; ok {
				c.out.csi.held[i] = nil // superseded by this one
			}
			if c.out.csi.presence == nil {
				c.out.csi.presence = make(map[string]int)
			}
			c.out.csi.presence[from] = len(c.out.csi.held)
		}
		c.out.csi.held = append(c.out.csi.held, b)
		c.out.csi.mu.Unlock()
		return true
	}
	held := c.takeHeldLocked()
	c.out.csi.mu.Unlock()
	c.release(held)
	return false
}

func (c *conn) takeHeldLocked() [][]byte {
	held := c.out.csi.held
	c.out.csi.held, c.out.csi.presence = nil, nil
	c.out.csi.on.Store(c.out.csi.inactive)
	return held
}

// release sends held stanzas in order.
func (c *conn) release(held [][]byte) {
	for _, b := range held {
		if b != nil && !c.out.sendBytes(b) {
			if el, err := stanza.ParseBytes(b); err == nil {
				c.undeliverable(el)
			}
		}
	}
}

// classify tells presence and urgent stanzas from serialized bytes (as
// AppendXML writes them, with 'from' set by the server).
func classify(b []byte) (isPresence, urgent bool, from string) {
	switch {
	case bytes.HasPrefix(b, []byte("<presence")):
		return true, false, attrOf(b, "from")
	case bytes.HasPrefix(b, []byte("<message")):
		return false, bytes.Contains(b, []byte("<body")), ""
	}
	return false, true, ""
}

// attrOf reads an attribute of the first tag of b (values as AppendXML
// writes them, in single quotes).
func attrOf(b []byte, name string) string {
	end := bytes.IndexByte(b, '>')
	if end < 0 {
		return ""
	}
	tag := b[:end]
	key := []byte(" " + name + "='")
	i := bytes.Index(tag, key)
	if i < 0 {
		return ""
	}
	v := tag[i+len(key):]
	if j := bytes.IndexByte(v, '\''); j >= 0 {
		return string(v[:j])
	}
	return ""
}
