// Package standalone serializes an element cut out of a stanza so that it
// can be stored and parsed again on its own.
//
// It exists because a client may declare a namespace prefix on the iq (or
// the stream header) and use it in a prefixed attribute deep inside the
// payload; stanza.Element.AppendXML writes attribute names as they are, so
// the stored bytes would not parse. It does not rewrite prefixes.
package standalone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parley-im/parley/stanza"
)

// ErrUnparsable is returned when el cannot be made to stand alone, e.g.
// it uses a prefix declared only on the stream header.
var ErrUnparsable = errors.New("standalone: element does not parse on its own")

// Marshal returns el's XML with its own default namespace declared and the
// xmlns:prefix declarations of its ancestors (innermost first) copied onto
// it, and checks that the result parses.
func Marshal(el *stanza.Element, ancestors ...*stanza.Element) ([]byte, error) {
	c := el.Copy()
	for _, a := range ancestors {
		for _, at := range a.Attrs {
			if strings.HasPrefix(at.Name, "xmlns:") && !c.HasAttr(at.Name) {
				c.Attrs = append(c.Attrs, at)
			}
		}
	}
	b := c.AppendXML(nil, "")
	if _, err := stanza.ParseBytes(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnparsable, err)
	}
	return b, nil
}
