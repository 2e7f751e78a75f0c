package push

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// Notifications are coalesced per user: at most one round of publishes is
// in flight for a user (so for each of its registrations) at a time. The
// first message starts a sender goroutine for the user; messages arriving
// while it publishes only add to a count, and when the round is over
// (every app server answered, or its timeout passed) the sender publishes
// once more with that count and the latest sender, or ends if nothing
// came. A burst of a hundred messages thus costs two rounds, not a
// hundred, and a slow app server slows its own users' notifications only.
//
// message-count is how many messages arrived since the previous
// notification was sent: XEP-0357 leaves the counting to the server, and
// the server does not know what the user has read.

// pending is what a user's next notification will say; guarded by Push.mu.
type pending struct {
	count  int
	sender string // the last message's 'from'
	body   string // and its body, if configured
}

// regKey names one registration.
type regKey struct{ owner, service, node string }

// Offline is told about a message stored offline for bare (the
// im.Server.OnOfflineMessage hook).
func (p *Push) Offline(bare jid.JID, st *stanza.Element) {
	p.message(bare, st)
}

// QueuedDetached is told about each stanza queued for a session whose
// connection is gone while stream management waits for it to resume
// (c2s.Config.QueuedDetached).
func (p *Push) QueuedDetached(full jid.JID, b []byte) {
	if !bytes.HasPrefix(b, []byte("<message")) {
		return // presence and IQs: no notification
	}
	st, err := stanza.ParseBytes(b)
	if err != nil || !im.WorthStoring(st) {
		return
	}
	p.message(full.Bare(), st)
}

// message counts a message for the user's next notification and makes
// sure a sender runs. It does not block.
func (p *Push) message(user jid.JID, st *stanza.Element) {
	from, err := jid.Parse(st.From())
	if err == nil && from.Bare() == user.Bare() {
		// The user's own message (a carbon copy of what another of the
		// user's clients sent or received): nothing to wake up for.
		return
	}
	body := ""
	if p.cfg.IncludeBody {
		if b := st.Child("body", stanza.NSClient); b != nil {
			body = b.Text()
		}
	}
	bare := user.Bare().String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	pd := p.users[bare]
	start := pd == nil
	if start {
		pd = &pending{}
		p.users[bare] = pd
	}
	pd.count++
	pd.sender, pd.body = st.From(), body
	if start {
		p.wg.Add(1)
		go p.send(bare)
	}
}

// send is a user's sender goroutine: one round of publishes for what is
// pending, again while more came meanwhile.
func (p *Push) send(bare string) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		pd := p.users[bare]
		if pd.count == 0 || p.closed {
			delete(p.users, bare)
			p.mu.Unlock()
			return
		}
		n := *pd
		pd.count = 0
		p.mu.Unlock()
		p.round(bare, n)
	}
}

// round publishes n to every app server the user registered, at once, and
// waits for them all.
func (p *Push) round(bare string, n pending) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	regs, err := p.store.PushRegistrations(ctx, bare)
	cancel()
	if err != nil {
		if p.ctx.Err() == nil {
			p.log.Error("push: loading registrations failed", "jid", bare, "err", err)
			p.cfg.Metrics.result("failed")
		}
		return
	}
	var wg sync.WaitGroup
	for _, r := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.publish(bare, r, n)
		}()
	}
	wg.Wait()
}

// publish sends one notification (XEP-0357 §7) and acts on the answer.
func (p *Push) publish(bare string, r storage.PushRegistration, n pending) {
	iq, err := p.notification(bare, r, n)
	if err != nil {
		p.log.Error("push: stored publish options unreadable", "jid", bare, "service", r.Service, "err", err)
		p.cfg.Metrics.result("failed")
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer cancel()
	_, err = p.core.Request(ctx, iq)
	key := regKey{bare, r.Service, r.Node}
	var se *stanza.Error
	switch {
	case err == nil:
		p.cfg.Metrics.result("ok")
		p.forgetErrors(bare, r.Service, r.Node, true)
	case errors.As(err, &se):
		p.cfg.Metrics.result("error")
		p.failed(key, se)
	case errors.Is(err, im.ErrNoComponent):
		p.cfg.Metrics.result("unavailable")
		p.log.Warn("push: the app server is not connected", "jid", bare, "service", r.Service)
	case ctx.Err() != nil:
		if p.ctx.Err() != nil {
			return // stopping
		}
		p.cfg.Metrics.result("timeout")
		p.log.Warn("push: the app server did not answer in time", "jid", bare, "service", r.Service, "timeout", p.cfg.Timeout)
	default:
		p.cfg.Metrics.result("failed")
		p.log.Warn("push: publish failed", "jid", bare, "service", r.Service, "err", err)
	}
}

// failed acts on an error the app server answered (XEP-0357 §7.1): the
// registration is disabled, unless the error is of type 'wait' (the app
// server is busy), which is tolerated MaxTransient times in a row.
func (p *Push) failed(key regKey, se *stanza.Error) {
	typ := se.Type
	if typ == "" {
		typ = se.Condition.Type()
	}
	if typ == stanza.Wait {
		p.mu.Lock()
		p.transient[key]++
		n := p.transient[key]
		p.mu.Unlock()
		if n < p.cfg.MaxTransient {
			p.log.Info("push: the app server is busy", "jid", key.owner, "service", key.service, "condition", se.Condition, "in_a_row", n)
			return
		}
	}
	p.forgetErrors(key.owner, key.service, key.node, true)
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer cancel()
	err := p.store.DeletePushRegistration(ctx, key.owner, key.service, key.node)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.log.Error("push: disabling a registration failed", "jid", key.owner, "service", key.service, "err", err)
		return
	}
	p.cfg.Metrics.Disabled.Inc()
	p.log.Info("push: registration disabled after an error from the app server", "jid", key.owner, "service", key.service, "node", key.node, "condition", se.Condition, "text", se.Text)
}

// forgetErrors resets the count of 'wait' errors of one registration (or,
// with exact false, of every node of the service).
func (p *Push) forgetErrors(owner, service, node string, exact bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if exact {
		delete(p.transient, regKey{owner, service, node})
		return
	}
	for k := range p.transient {
		if k.owner == owner && k.service == service {
			delete(p.transient, k)
		}
	}
}

// notification builds the publish: from the user's bare JID to the app
// server, the summary form, and the publish options the client gave.
func (p *Push) notification(bare string, r storage.PushRegistration, n pending) (*stanza.Element, error) {
	form := stanza.New("x", nsData, "type", "submit").Append(
		field("FORM_TYPE", formSummary),
		field("message-count", strconv.Itoa(n.count)),
		field("last-message-sender", n.sender),
	)
	if p.cfg.IncludeBody && n.body != "" {
		form.Append(field("last-message-body", n.body))
	}
	publish := stanza.New("publish", nsPubsub)
	if r.Node != "" {
		publish.SetAttr("node", r.Node)
	}
	publish.Append(stanza.New("item", nsPubsub).Append(stanza.New("notification", NS).Append(form)))
	ps := stanza.New("pubsub", nsPubsub).Append(publish)
	if len(r.Options) > 0 {
		opts, err := stanza.ParseBytes(r.Options)
		if err != nil {
			return nil, err
		}
		ps.Append(stanza.New("publish-options", nsPubsub).Append(opts))
	}
	return stanza.New("iq", stanza.NSClient, "type", "set", "from", bare, "to", r.Service).Append(ps), nil
}

func field(name, value string) *stanza.Element {
	return stanza.New("field", nsData, "var", name).Append(stanza.New("value", nsData).SetText(value))
}
