package mam

import (
	"context"
	"fmt"
	"slices"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// MaxPrefsJIDs bounds the JIDs of the <always/> and <never/> lists together.
const MaxPrefsJIDs = 1000

// prefs returns the archiving preferences (XEP-0441 §2.1). An owner who
// never set any has default='always' and empty lists.
func (m *MAM) prefs(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	p, err := m.srv.Store().ArchivePrefs(ctx, q.From.Bare().String())
	if err != nil {
		return nil, fmt.Errorf("mam: load prefs: %w", err)
	}
	return q.Result(prefsElement(p)), nil
}

// setPrefs replaces the preferences and returns them as stored. JIDs are
// kept bare: a full JID stands for its bare JID, which XEP-0441 allows
// ("the applied preferences ... MAY be different").
func (m *MAM) setPrefs(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	p, err := parsePrefs(q.Payload)
	if err != nil {
		return nil, err
	}
	// Through the core, which drops its cached copy here and on the
	// other nodes, so archiving follows the new preferences at once.
	if err := m.srv.SetArchivePrefs(ctx, q.From.Bare(), p); err != nil {
		return nil, fmt.Errorf("mam: store prefs: %w", err)
	}
	return m.prefs(ctx, q)
}

func parsePrefs(el *stanza.Element) (storage.ArchivePrefs, error) {
	p := storage.ArchivePrefs{Default: el.Attr("default")}
	switch p.Default {
	case storage.ArchiveAlways, storage.ArchiveNever, storage.ArchiveRoster:
	default:
		return p, stanza.Errorf(stanza.BadRequest, "'default' must be always, never or roster, not %q", p.Default)
	}
	for _, c := range el.Elements() {
		if c.Space != NS {
			continue
		}
		var list *[]string
		switch c.Name {
		case "always":
			list = &p.Always
		case "never":
			list = &p.Never
		default:
			return p, stanza.Errorf(stanza.BadRequest, "unexpected <%s/> in <prefs/>", c.Name)
		}
		for _, j := range c.Elements() {
			if !j.Is("jid", NS) {
				return p, stanza.Errorf(stanza.BadRequest, "unexpected <%s/> in <%s/>", j.Name, c.Name)
			}
			parsed, err := jid.Parse(j.Text())
			if err != nil {
				return p, stanza.Errorf(stanza.BadRequest, "<%s/>: %q is not a valid JID", c.Name, j.Text())
			}
			if b := parsed.Bare().String(); !slices.Contains(*list, b) {
				*list = append(*list, b)
			}
			if len(p.Always)+len(p.Never) > MaxPrefsJIDs {
				return p, stanza.Errorf(stanza.NotAcceptable, "the preferences hold at most %d JIDs", MaxPrefsJIDs)
			}
		}
	}
	for _, j := range p.Always {
		if slices.Contains(p.Never, j) {
			return p, stanza.Errorf(stanza.BadRequest, "%s is in both <always/> and <never/>", j)
		}
	}
	return p, nil
}

func prefsElement(p storage.ArchivePrefs) *stanza.Element {
	list := func(name string, jids []string) *stanza.Element {
		el := stanza.New(name, NS)
		for _, j := range jids {
			el.Append(stanza.New("jid", NS).SetText(j))
		}
		return el
	}
	return stanza.New("prefs", NS, "default", p.Default).Append(list("always", p.Always), list("never", p.Never))
}
