package im_test

import (
	"context"
	"testing"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// Two handlers for one namespace and target are a wiring mistake, not a
// silent replacement; other targets of the namespace are separate.
func TestHandleTwice(t *testing.T) {
	core := im.New(im.Config{Hosts: []string{"localhost"}}, router.New(), nil)
	h := im.IQHandlerFunc(func(context.Context, im.IQ) (*stanza.Element, error) { return nil, nil })
	core.Handle("urn:example:one", im.ToServer, h)
	core.Handle("urn:example:one", im.ToAccount, h)
	defer func() {
		if recover() == nil {
			t.Error("a second handler for urn:example:one (to the server) was taken")
		}
	}()
	core.Handle("urn:example:one", im.ToServer|im.ToSelf, h)
}
