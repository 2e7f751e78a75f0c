package server

import (
	"github.com/parley-im/parley/modules/blocking"
	"github.com/parley-im/parley/modules/carbons"
	"github.com/parley-im/parley/modules/disco"
	"github.com/parley-im/parley/modules/mam"
	"github.com/parley-im/parley/modules/ping"
	"github.com/parley-im/parley/modules/private"
	"github.com/parley-im/parley/modules/register"
	"github.com/parley-im/parley/modules/vcard"
	"github.com/parley-im/parley/modules/version"
	"github.com/parley-im/parley/modules/xtime"
)

// registerModules wires the XEP modules into the core. It returns the
// disco module, whose capabilities go into stream features.
func registerModules(s *Server) *disco.Disco {
	core, st := s.core, s.store
	d := disco.New(core)
	d.Register(core)
	ping.New(st).Register(core)
	version.New(Version, "").Register(core)
	xtime.New(nil).Register(core)
	carbons.New().Register(core)
	vcard.New(st, 0).Register(core)
	private.New(st, 0).Register(core)
	blocking.New(core, s.log, 0).Register(core)
	s.push = registerPush(s, d)
	if s.cfg.Archive.Enabled {
		mam.New(core, mam.Config{Log: s.log}).Register(core, d)
	}
	if s.cfg.Registration.Enabled {
		register.New(core, register.Config{
			MinPasswordLength: s.cfg.Registration.MinPasswordLength,
			Iterations:        s.cfg.Auth.SCRAMIterations,
			Log:               s.log,
		}).Register(core)
	}
	return d
}
