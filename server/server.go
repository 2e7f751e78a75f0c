// Package server assembles a Parley node from one config.Config: storage,
// the session directory, the instant-messaging core with its modules, the
// client listeners and the HTTP listener. It has a Start, a readiness
// signal and a Shutdown; the CLI and the tests are both clients of it.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/admin"
	"github.com/parley-im/parley/c2s"
	"github.com/parley-im/parley/cluster"
	"github.com/parley-im/parley/cluster/directory"
	"github.com/parley-im/parley/component"
	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/im"
	"github.com/parley-im/parley/modules/push"
	"github.com/parley-im/parley/router"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Version is the server version reported over XEP-0092 and /healthz.
var Version = "0.1.0-dev"

// Server is one Parley node.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	store   storage.Store
	router  *router.Router
	core    *im.Server
	c2s     *c2s.Server
	http    *http.Server
	pprof   *http.Server         // debug.pprof_address, or nil
	node    *cluster.Node        // nil when not clustered
	dir     *directory.Directory // nil when not clustered
	started time.Time

	components *component.Server // external components (XEP-0114)
	dash       *admin.Dashboard  // the admin dashboard, built by httpHandler (admin.go)
	dashErr    bool              // it could not be built
	push       *push.Push        // push notifications (XEP-0357)

	// CertPath is the certificate in use; CertCreated says it was just
	// generated (self-signed).
	CertPath    string
	CertCreated bool

	mu       sync.Mutex // guards addrs
	addrs    map[string]net.Addr
	ready    chan struct{}
	shutdown sync.Once
	shutErr  error
	serve    sync.WaitGroup

	draining  atomic.Bool
	drainReq  chan struct{} // closed by requestDrain
	drainOnce sync.Once
	control   net.Listener // the control socket (parley drain), or nil
	reporters sync.WaitGroup
	drained   chan struct{} // closed when Drain is over; drainErr is set then
	drainErr  error
	sweepStop chan struct{} // stops sweepOrphans, if running
	sweepDone chan struct{} // closed when it has stopped
}

// shutdownGrace bounds the final Shutdown after a drain.
const shutdownGrace = 10 * time.Second

// New checks the configuration and builds a server; nothing is opened
// until Start.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		cfg:      cfg,
		log:      log,
		addrs:    make(map[string]net.Addr),
		ready:    make(chan struct{}),
		drainReq: make(chan struct{}),
		drained:  make(chan struct{}),
	}, nil
}

// Start opens storage, loads or creates the certificate, binds every
// listener and starts serving. It returns once the server accepts
// connections (Ready is closed by then).
func (s *Server) Start(ctx context.Context) error {
	s.started = time.Now()
	cfg := s.cfg
	dsn := cfg.Storage.PostgresDSN
	if cfg.Storage.Driver == config.DriverSQLite {
		dsn = cfg.SQLitePath()
	}
	st, err := storage.Open(ctx, cfg.Storage.Driver, dsn, s.log)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	s.store = st
	if err := s.start(ctx); err != nil {
		// Stop what start got to (listeners, the orphan sweeper, c2s's
		// mark flusher), not only storage: nothing has been accepted yet
		// that a shutdown would wait for long.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(sctx)
		cancel()
		return err
	}
	close(s.ready)
	return nil
}

func (s *Server) start(ctx context.Context) error {
	cfg := s.cfg
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var tlsConf *tls.Config
	var leaf *x509.Certificate
	certFile, keyFile, generate := cfg.TLSFiles()
	if generate {
		certFile, keyFile = "", ""
	}
	cert, path, created, err := loadOrCreateCert(certFile, keyFile, cfg.DataDir, cfg.Hosts)
	if err != nil {
		return err
	}
	s.CertPath, s.CertCreated = path, created
	leaf, err = x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	// ALPN "xmpp-client" is what XEP-0368 clients offer on direct TLS.
	tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: cfg.MinTLSVersion(), NextProtos: []string{"xmpp-client"}}

	// The edges between the parts: the directory (clustered) hears of the
	// router's local sessions and of what the core tells other nodes, and
	// is joined to the cluster by startCluster once both exist.
	var observers []router.Observer
	var peers im.Cluster
	if cfg.Cluster.Enabled() {
		s.dir = directory.New(s.log)
		observers, peers = append(observers, s.dir), s.dir
	}
	s.router = router.New(observers...)
	s.registerGauges()
	s.core = im.New(im.Config{
		Hosts:              cfg.Hosts,
		MaxOfflineMessages: cfg.Limits.MaxOfflineMessages,
		NoArchive:          !cfg.Archive.Enabled,
		Log:                s.log,
		Metrics:            s.coreMetrics(),
		Cluster:            peers,
	}, s.router, s.store)
	if err := s.declareComponents(); err != nil {
		return err
	}
	caps := registerModules(s)
	if err := s.startCluster(ctx); err != nil {
		return err
	}
	if err := s.startComponents(ctx); err != nil {
		return err
	}

	node, member := s.member()
	alive := s.holderAlive()
	durableMember := member
	if !cfg.Archive.Enabled {
		// Taking a session over replays it from the archive: without one,
		// sessions are resumable only where they live.
		durableMember = ""
	}
	s.c2s = c2s.NewServer(c2s.Config{
		Hosts:        cfg.Hosts,
		TLS:          tlsConf,
		ServerCert:   leaf,
		RequireTLS:   cfg.Listeners.C2S.StartTLSRequired,
		AllowPlain:   cfg.Auth.AllowPlain,
		Registration: cfg.Registration.Enabled,
		Limits: stanza.Limits{
			MaxStanzaBytes: cfg.Limits.MaxStanzaBytes,
			MaxDepth:       cfg.Limits.MaxDepth,
			MaxAttrs:       cfg.Limits.MaxAttrs,
		},
		MaxConns:     cfg.Limits.MaxConnections,
		MaxConnsIP:   cfg.Limits.MaxConnectionsPerIP,
		AuthTimeout:  cfg.Limits.AuthTimeout,
		PingInterval: cfg.Limits.PingInterval,
		PingTimeout:  cfg.Limits.PingTimeout,
		MaxResources: cfg.Limits.MaxResourcesPerUser,
		LoginRate:    cfg.Limits.LoginRatePerIP,
		IdleTimeout:  cfg.Limits.IdleTimeout,
		SM:           cfg.StreamManagement.Enabled,
		SMMaxUnacked: cfg.StreamManagement.MaxUnacked,

		SMResumeTimeout: cfg.StreamManagement.ResumeTimeout,
		SMLocation:      cfg.Cluster.ClientAddress,
		SMTLSLocation:   cfg.Cluster.ClientTLSAddress,
		RemoteResume:    s.remoteResume(),
		ResumeFrom:      s.resumeFrom(),
		TakenOver:       s.takenOver(),
		QueuedDetached:  s.push.QueuedDetached,
		Node:            node,
		Member:          durableMember,
		HolderAlive:     alive,
		TakeoverWait:    s.takeoverWait(),
		MaxClockSkew:    cfg.Cluster.MaxClockSkew,
		Caps:            caps.CapsElement,
		Metrics:         c2s.NewMetrics(s.reg),
		Log:             s.log,
	}, s.core, s.store)

	if cfg.StreamManagement.ResumeTimeout > 0 {
		s.sweepStop, s.sweepDone = make(chan struct{}), make(chan struct{})
		period := min(time.Minute, max(cfg.StreamManagement.ResumeTimeout/4, time.Second))
		go func() {
			defer close(s.sweepDone)
			s.sweepOrphans(member, alive, period, s.sweepStop)
		}()
	}
	if err := s.startControl(); err != nil {
		return err
	}
	if a := cfg.Listeners.C2S.Address; a != "" {
		if err := s.listen(ctx, "c2s", a, func(l net.Listener) error { return s.c2s.Serve(l, false) }); err != nil {
			return err
		}
	}
	if a := cfg.Listeners.C2STLS.Address; a != "" {
		if err := s.listen(ctx, "c2s_tls", a, func(l net.Listener) error { return s.c2s.Serve(l, true) }); err != nil {
			return err
		}
	}
	if s.dir != nil {
		if err := s.dir.OnResume(s.handOver, func(err error) bool { return errors.Is(err, c2s.ErrNotHere) }); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	if a := cfg.Debug.PprofAddress; a != "" {
		if err := s.startPprof(ctx, a); err != nil {
			return err
		}
	}
	if a := cfg.Listeners.HTTP.Address; a != "" {
		s.http = &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		if err := s.listen(ctx, "http", a, func(l net.Listener) error {
			err := s.http.Serve(l)
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// listen binds one listener and serves it in the background.
func (s *Server) listen(ctx context.Context, name, addr string, serve func(net.Listener) error) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listeners.%s: %w", name, err)
	}
	s.mu.Lock()
	s.addrs[name] = l.Addr()
	s.mu.Unlock()
	s.log.Info("listening", "listener", name, "address", l.Addr().String())
	s.serve.Add(1)
	go func() {
		defer s.serve.Done()
		if err := serve(l); err != nil && !errors.Is(err, c2s.ErrClosed) {
			s.log.Error("listener stopped", "listener", name, "err", err)
		}
	}()
	return nil
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the bound address of a listener ("c2s", "c2s_tls", "http"),
// or nil. Useful with port 0.
func (s *Server) Addr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

// Store returns the server's storage (for tests and tools in-process).
func (s *Server) Store() storage.Store { return s.store }

// Connections returns the number of open client connections.
func (s *Server) Connections() int { return s.c2s.Count() }

// Router returns the session directory.
func (s *Server) Router() *router.Router { return s.router }

// Core returns the routing core (for tests and tools in-process).
func (s *Server) Core() *im.Server { return s.core }

// Shutdown closes every stream cleanly (system-shutdown), stops the
// listeners and closes storage once queued writes are committed. Calling it
// again returns the first call's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() { s.shutErr = s.doShutdown(ctx) })
	return s.shutErr
}

func (s *Server) doShutdown(ctx context.Context) error {
	var err error
	if s.c2s != nil {
		err = s.c2s.Shutdown(ctx)
	}
	if cerr := s.stopComponents(ctx); err == nil {
		err = cerr
	}
	for _, h := range []*http.Server{s.http, s.pprof} {
		if h == nil {
			continue
		}
		if herr := h.Shutdown(ctx); err == nil {
			err = herr
		}
	}
	s.serve.Wait()
	if s.sweepStop != nil {
		close(s.sweepStop)
		<-s.sweepDone
	}
	s.closeAll()
	return err
}

func (s *Server) closeAll() {
	if s.control != nil {
		_ = s.control.Close() // also removes the socket file
	}
	if s.dir != nil {
		s.dir.Stop()
	}
	if s.node != nil {
		// Leave the cluster after the streams closed, so the others hear
		// "left" rather than wait for the heartbeat to lapse.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.node.Shutdown(ctx); err != nil {
			s.log.Error("leaving the cluster", "err", err)
		}
		cancel()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Error("closing storage", "err", err)
		}
	}
}

// registerGauges exposes the directory, the cluster traffic (zeros when
// not clustered, so that one dashboard fits every node) and the
// group-commit writers.
func (s *Server) registerGauges() {
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_sessions", Help: "Bound client sessions (resources).",
	}, func() float64 { return float64(s.router.Count()) }))
	s.registerClusterMetrics()
	sq, ok := s.store.(*storage.SQL)
	if !ok {
		return
	}
	s.registerCommitHistograms(sq)
	s.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_storage_commits_total", Help: "Transactions committed by the group-commit writer.",
		}, func() float64 { return float64(sq.Stats().Batches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_storage_committed_rows_total", Help: "Durable writes committed by the group-commit writer.",
		}, func() float64 { return float64(sq.Stats().Rows) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_storage_max_batch", Help: "Most writes committed in one transaction so far.",
		}, func() float64 { return float64(sq.Stats().MaxBatch) }),
		// The archive's writer: one request per message, holding a row
		// for each local party (two when both are local).
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_archive_commits_total", Help: "Transactions committed by the archive's group-commit writer.",
		}, func() float64 { return float64(sq.ArchiveStats().Batches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_archive_messages_total", Help: "Messages archived (one row per local party) by the archive's group-commit writer.",
		}, func() float64 { return float64(sq.ArchiveStats().Rows) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_archive_max_batch", Help: "Most messages archived in one transaction so far.",
		}, func() float64 { return float64(sq.ArchiveStats().MaxBatch) }),
	)
}
