package im

import (
	"context"
	"strings"
	"time"

	"github.com/parley-im/parley/stanza"
)

// Metrics lets the server measure the core without the core knowing how
// measurements are kept (the server keeps Prometheus histograms; im does
// not import Prometheus). Each field may be nil. Each is asked once, before
// serving, for a recorder that the stanza path then calls directly: no
// lookup or allocation per stanza.
type Metrics struct {
	// Route returns the recorder of how long Route takes for stanzas of
	// one kind: "message", "presence" or "iq". For a message that
	// includes archiving it (the commit it waits for).
	Route func(kind string) func(time.Duration)
	// Module returns the recorder of one module's IQ handler calls: how
	// long each took and whether it answered with an error. name is
	// ModuleName of a namespace registered with Handle, so the names are
	// few and known.
	Module func(name string) func(d time.Duration, failed bool)
}

// routeKinds are the kinds Metrics.Route is asked about, indexed as by
// kindOf.
var routeKinds = [...]string{"message", "presence", "iq"}

func kindOf(name string) int {
	switch name {
	case "message":
		return 0
	case "presence":
		return 1
	case "iq":
		return 2
	}
	return -1
}

// nsPrefixes are the registries' prefixes ModuleName drops.
var nsPrefixes = []string{"urn:xmpp:", "jabber:iq:", "http://jabber.org/protocol/", "urn:ietf:params:xml:ns:"}

// ModuleName is the short name, for metrics, of the module answering IQs
// of namespace ns: its first word after a well-known registry's prefix
// ("urn:xmpp:mam:2" → "mam", "http://jabber.org/protocol/disco#info" →
// "disco", "jabber:iq:roster" → "roster", "vcard-temp" → "vcard"), or ns
// itself when it is under some other prefix.
func ModuleName(ns string) string {
	rest, known := ns, false
	for _, p := range nsPrefixes {
		if rest, known = strings.CutPrefix(ns, p); known {
			break
		}
	}
	if !known && strings.ContainsAny(ns, ":/") {
		return ns
	}
	end := strings.IndexFunc(rest, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_'
	})
	if end >= 0 {
		rest = rest[:end]
	}
	if rest == "" {
		return ns
	}
	return rest
}

// callIQ runs a registered handler, measuring the call when asked to.
func (e iqHandler) callIQ(ctx context.Context, q IQ) (*stanza.Element, error) {
	if e.record == nil {
		return e.h.HandleIQ(ctx, q)
	}
	start := time.Now()
	reply, err := e.h.HandleIQ(ctx, q)
	e.record(time.Since(start), err != nil)
	return reply, err
}
