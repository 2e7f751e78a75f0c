package server

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/parley-im/parley/component"
	"github.com/parley-im/parley/modules/disco"
	"github.com/parley-im/parley/modules/push"
	"github.com/parley-im/parley/stanza"
)

// declareComponents tells the core which domains external components
// serve (config components), before anything is routed.
func (s *Server) declareComponents() error {
	for _, c := range s.cfg.Components {
		if err := s.core.AddComponent(c.Domain); err != nil {
			return fmt.Errorf("components: %s: %w", c.Domain, err)
		}
	}
	return nil
}

// registerPush builds the push module (XEP-0357); its hooks are wired by
// registerModules (offline storage) and start (c2s's detached sessions).
func registerPush(s *Server, d *disco.Disco) *push.Push {
	p := push.New(s.core, s.store, push.Config{
		IncludeBody: s.cfg.Push.IncludeBody,
		Metrics:     push.NewMetrics(s.reg),
		Log:         s.log,
	})
	p.Register(s.core, d)
	return p
}

// startComponents lets the core reach components on other nodes of the
// cluster, and opens listeners.component. Call it after startCluster and
// before any client is served.
func (s *Server) startComponents(ctx context.Context) error {
	if s.dir != nil {
		if err := s.dir.ServeRequests(s.core.RequestLocal); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	secrets := make(map[string]string, len(s.cfg.Components))
	for _, c := range s.cfg.Components {
		secrets[c.Domain] = c.Secret
	}
	s.components = component.NewServer(component.Config{
		Secrets: secrets,
		Limits: stanza.Limits{
			MaxStanzaBytes: s.cfg.Limits.MaxStanzaBytes,
			MaxDepth:       s.cfg.Limits.MaxDepth,
			MaxAttrs:       s.cfg.Limits.MaxAttrs,
		},
		HandshakeTimeout: s.cfg.Limits.AuthTimeout,
		Metrics:          component.NewMetrics(s.reg),
		Log:              s.log,
	}, s.core)
	a := s.cfg.Listeners.Component.Address
	if a == "" {
		return nil
	}
	return s.listen(ctx, "component", a, func(l net.Listener) error {
		if err := s.components.Serve(l); !errors.Is(err, component.ErrClosed) {
			return err
		}
		return nil
	})
}

// stopComponents stops the push notifications in flight (the client
// streams are closed by then) and closes the components' streams.
func (s *Server) stopComponents(ctx context.Context) error {
	if s.push != nil {
		s.push.Close()
	}
	if s.components == nil {
		return nil
	}
	return s.components.Shutdown(ctx)
}
