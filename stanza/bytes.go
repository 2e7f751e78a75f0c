package stanza

import (
	"bytes"
	"errors"
	"io"
)

// ParseBytes parses one serialized element, as stored by AppendXML (the
// offline store, pending subscription requests). Its namespace defaults to
// jabber:client when the bytes declare none.
func ParseBytes(b []byte) (*Element, error) {
	p := NewParser(io.MultiReader(
		bytes.NewReader([]byte("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")),
		bytes.NewReader(b),
		bytes.NewReader([]byte("</stream:stream>"))), Limits{MaxStanzaBytes: len(b) + 1024})
	for {
		el, header, err := p.Next()
		if err != nil {
			if errors.Is(err, ErrStreamClosed) {
				return nil, errors.New("stanza: no element in input")
			}
			return nil, err
		}
		if !header {
			return el, nil
		}
	}
}
