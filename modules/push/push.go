// Package push sends push notifications (XEP-0357): a client registers the
// app server of its platform (a pubsub service, connected to this server
// as an external component) with <enable/>, and when a message arrives
// that the user's clients will not see now — it is stored offline, or
// queued for a session whose connection is gone while stream management
// waits for it to resume — the server publishes a summary to each of the
// user's app servers, which wake the device.
//
// Registrations are per account and durable (storage.PushStore). The
// module learns of messages through hooks (im.Server.OnOfflineMessage,
// c2s.Config.QueuedDetached) and sends its publishes through
// im.Server.Request; it keeps no connection of its own and never touches
// one.
package push

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Namespaces.
const (
	NS                 = "urn:xmpp:push:0"
	nsPubsub           = "http://jabber.org/protocol/pubsub"
	nsData             = "jabber:x:data"
	formPublishOptions = "http://jabber.org/protocol/pubsub#publish-options"
	formSummary        = "urn:xmpp:push:summary"
)

// Config is the module's behaviour.
type Config struct {
	// IncludeBody puts the last message's body in notifications (config
	// push.include_body). Off by default: the body would pass through
	// the app server and the platform's push service.
	IncludeBody bool
	// Timeout bounds the wait for an app server's answer to a publish
	// (default 10s).
	Timeout time.Duration
	// MaxTransient is how many errors of type 'wait' in a row an app
	// server may answer before its registration is disabled (default 5).
	MaxTransient int
	Metrics      *Metrics
	Log          *slog.Logger
}

func (c *Config) defaults() {
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxTransient == 0 {
		c.MaxTransient = 5
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
}

// Push is the module.
type Push struct {
	core  *im.Server
	store storage.PushStore
	cfg   Config
	log   *slog.Logger

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the senders (notify.go)

	mu        sync.Mutex          // guards users, transient and closed
	users     map[string]*pending // bare JID -> messages not notified yet
	transient map[regKey]int      // registration -> 'wait' errors in a row
	closed    bool
}

// New returns the module for core. Call Close when the server stops.
func New(core *im.Server, store storage.PushStore, cfg Config) *Push {
	cfg.defaults()
	p := &Push{core: core, store: store, cfg: cfg, log: cfg.Log,
		users: make(map[string]*pending), transient: make(map[regKey]int)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// FeatureAdder is where the module advertises urn:xmpp:push:0 on every
// account's bare JID (XEP-0357 §4.1): the disco module.
type FeatureAdder interface {
	AddAccountFeature(features ...string)
}

// Register installs the <enable/> and <disable/> handler on the user's own
// account, advertises the feature there and hooks into offline storage.
// Call before serving.
func (p *Push) Register(s *im.Server, disco FeatureAdder) {
	s.Handle(NS, im.ToSelf, im.IQHandlerFunc(p.handle))
	disco.AddAccountFeature(NS)
	s.OnOfflineMessage(p.Offline)
}

// Close stops sending and waits for the notifications in flight to end.
func (p *Push) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

func (p *Push) handle(ctx context.Context, q im.IQ) (*stanza.Element, error) {
	if !q.IsSet() {
		return nil, &stanza.Error{Condition: stanza.BadRequest, Text: "push notifications are enabled and disabled with an iq set"}
	}
	service, err := serviceJID(q.Payload)
	if err != nil {
		return nil, err
	}
	owner := q.To.Bare().String()
	switch q.Payload.Name {
	case "enable":
		return p.enable(ctx, q, owner, service)
	case "disable":
		return p.disable(ctx, q, owner, service)
	}
	return nil, stanza.Errorf(stanza.BadRequest, "expected <enable/> or <disable/> in %s", NS)
}

// serviceJID reads the required 'jid' of <enable/> and <disable/>.
func serviceJID(el *stanza.Element) (jid.JID, error) {
	raw := el.Attr("jid")
	if raw == "" {
		return jid.JID{}, &stanza.Error{Condition: stanza.BadRequest, Text: "the push service's 'jid' is required"}
	}
	j, err := jid.Parse(raw)
	if err != nil {
		return jid.JID{}, &stanza.Error{Condition: stanza.BadRequest, Text: "the push service's 'jid' is not a valid JID"}
	}
	return j, nil
}

// enable registers an app server (XEP-0357 §5). Enabling the same service
// and node again replaces the publish options.
func (p *Push) enable(ctx context.Context, q im.IQ, owner string, service jid.JID) (*stanza.Element, error) {
	if !p.core.IsComponent(service.Domain()) {
		// There is no server-to-server federation: publishes can only
		// reach app servers connected here as components.
		return nil, stanza.Errorf(stanza.RemoteServerNotFound, "%s is not a push service connected to this server", service.Domain())
	}
	var options []byte
	for _, x := range q.Payload.Elements() {
		if !x.Is("x", nsData) {
			continue
		}
		if formType(x) != formPublishOptions {
			return nil, stanza.Errorf(stanza.BadRequest, "the data form of <enable/> must have FORM_TYPE %s", formPublishOptions)
		}
		if options != nil {
			return nil, &stanza.Error{Condition: stanza.BadRequest, Text: "only one publish-options form is allowed"}
		}
		options = x.AppendXML(nil, "")
	}
	r := storage.PushRegistration{Service: service.String(), Node: q.Payload.Attr("node"), Options: options}
	if err := p.store.PutPushRegistration(ctx, owner, r); err != nil {
		return nil, p.internal("enable", err)
	}
	p.forgetErrors(owner, r.Service, r.Node, true)
	return q.Result(), nil
}

// disable removes one registration (with 'node') or all of a service
// (XEP-0357 §6). Disabling what is not enabled is not an error.
func (p *Push) disable(ctx context.Context, q im.IQ, owner string, service jid.JID) (*stanza.Element, error) {
	if q.Payload.HasAttr("node") {
		node := q.Payload.Attr("node")
		err := p.store.DeletePushRegistration(ctx, owner, service.String(), node)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, p.internal("disable", err)
		}
		p.forgetErrors(owner, service.String(), node, true)
		return q.Result(), nil
	}
	if _, err := p.store.DeletePushService(ctx, owner, service.String()); err != nil {
		return nil, p.internal("disable", err)
	}
	p.forgetErrors(owner, service.String(), "", false)
	return q.Result(), nil
}

func (p *Push) internal(what string, err error) *stanza.Error {
	p.log.Error("push: storage failed", "op", what, "err", err)
	return &stanza.Error{Condition: stanza.InternalServerError}
}

// formType returns a data form's FORM_TYPE (XEP-0068).
func formType(x *stanza.Element) string {
	for _, f := range x.Elements() {
		if f.Name == "field" && f.Attr("var") == "FORM_TYPE" {
			if v := f.Child("value", nsData); v != nil {
				return v.Text()
			}
		}
	}
	return ""
}
