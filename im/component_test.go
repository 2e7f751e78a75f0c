package im_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
)

// componentConn is a component's end of the router: what the core hands it
// arrives on a channel.
type componentConn struct{ got chan *stanza.Element }

func (c componentConn) Deliver(el *stanza.Element) { c.got <- el }
func (componentConn) Close(*stanza.StreamError)    {}

// Request pairs an answer with its request by id and by who answers: the
// address the request went to, and no other.
func TestRequestAnswers(t *testing.T) {
	core := im.New(im.Config{Hosts: []string{"localhost"}}, router.New(), nil)
	for _, d := range []string{"push.localhost", "other.localhost"} {
		if err := core.AddComponent(d); err != nil {
			t.Fatal(err)
		}
	}
	push := componentConn{make(chan *stanza.Element, 4)}
	if _, _, err := core.Router().Bind(jid.MustParse("push.localhost/"+im.ComponentResource), push, 0); err != nil {
		t.Fatal(err)
	}
	ask := func(ctx context.Context) (chan *stanza.Element, chan error) {
		replies, errs := make(chan *stanza.Element, 1), make(chan error, 1)
		go func() {
			r, err := core.Request(ctx, stanza.New("iq", stanza.NSClient, "type", "set", "from", "alice@localhost", "to", "push.localhost").
				Append(stanza.New("pubsub", "http://jabber.org/protocol/pubsub")))
			replies <- r
			errs <- err
		}()
		return replies, errs
	}
	answer := func(req *stanza.Element, from, typ, payload string) {
		el, err := stanza.ParseBytes([]byte("<iq xmlns='jabber:client' type='" + typ + "' id='" + req.ID() + "' from='" + from + "' to='" + req.From() + "'>" + payload + "</iq>"))
		if err != nil {
			t.Fatal(err)
		}
		core.FromComponent(context.Background(), el)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	replies, errs := ask(ctx)
	req := <-push.got
	if req.ID() == "" || req.To() != "push.localhost" || req.From() != "alice@localhost" {
		t.Fatalf("the component got %s", req)
	}
	answer(req, "other.localhost", "result", "") // not who was asked
	select {
	case r := <-replies:
		t.Fatalf("an answer from another address was taken: %s", r)
	case <-time.After(200 * time.Millisecond):
	}
	answer(req, "push.localhost", "result", "")
	if r, err := <-replies, <-errs; err != nil || r.Type() != "result" {
		t.Fatalf("Request = %v, %v; want the result", r, err)
	}

	replies, errs = ask(ctx)
	req = <-push.got
	answer(req, "push.localhost", "error", "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no such node</text></error>")
	<-replies
	var se *stanza.Error
	if err := <-errs; !errors.As(err, &se) || se.Condition != stanza.ItemNotFound || se.Type != stanza.Cancel || se.Text != "no such node" {
		t.Fatalf("Request error = %v, want item-not-found (cancel) with its text", err)
	}

	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	_, errs = ask(short)
	<-push.got
	if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered Request = %v, want the deadline", err)
	}

	_, err := core.Request(ctx, stanza.New("iq", stanza.NSClient, "type", "set", "from", "alice@localhost", "to", "other.localhost"))
	if !errors.Is(err, im.ErrNoComponent) {
		t.Fatalf("Request to a component not connected = %v, want ErrNoComponent", err)
	}
}
