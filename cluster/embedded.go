package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// clusterName is the NATS cluster name of every embedded server; servers
// with different names refuse to route to each other.
const clusterName = "parley"

// readyTimeout bounds the wait for the embedded server's listeners when the
// caller's context has no deadline.
const readyTimeout = 10 * time.Second

// implicitRouteRetries: see serverOptions.
const implicitRouteRetries = 3600

// readyStep is how often waitReady checks for a listen error.
const readyStep = 50 * time.Millisecond

// startEmbedded starts a NATS server for cfg and waits until its listeners
// are up. instance makes the NATS server name unique per process start, so
// that two live nodes with the same Parley name still route to each other
// (nats-server refuses a route from a server with its own name) and the
// duplicate is detected at the membership level.
func startEmbedded(ctx context.Context, cfg Config, instance string) (*server.Server, error) {
	opts, err := serverOptions(cfg, instance)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded nats: %w", err)
	}
	if openRoutes(cfg) {
		cfg.Log.Warn("cluster: the route listener is open to other machines without authentication: any host that reaches it can join the cluster and read its traffic; set cluster.secret on every node, and keep the port on a private network", "listen", cfg.Listen)
	}
	lg := &natsLogger{log: cfg.Log.With("component", "nats")}
	srv.SetLoggerV2(lg, false, false, false)
	srv.Start()

	if err := waitReady(ctx, srv, lg); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	return srv, nil
}

// waitReady waits for the server's listeners. ReadyForConnections alone
// would wait out its whole timeout after a listen error, so it is polled in
// short steps while watching for the Fatalf that reports one.
func waitReady(ctx context.Context, srv *server.Server, lg *natsLogger) error {
	deadline := time.Now().Add(readyTimeout)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl
	}
	for !srv.ReadyForConnections(readyStep) {
		if msg := lg.lastFatal(); msg != "" {
			return fmt.Errorf("cluster: embedded nats: %s", msg)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cluster: embedded nats not ready: %w", err)
		}
		if time.Now().After(deadline) {
			return errors.New("cluster: embedded nats not ready in time")
		}
	}
	return nil
}

// serverOptions maps Config onto nats-server options. Port 0 in Config
// means "any free port", which nats-server spells RANDOM_PORT (its 0 means
// the default port, or no cluster at all).
func serverOptions(cfg Config, instance string) (*server.Options, error) {
	chost, cport, err := splitHostPort(cfg.ClientListen)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cfg.NodeName + "-" + instance[:8],
		Host:       chost,
		Port:       randomIfZero(cport),
		NoSigs:     true, // the process's signals belong to Parley, not to NATS
		// A lost route is redialled every second; by default each failure
		// is logged. Log the first and then one a minute.
		ReconnectErrorReports: 60,
	}
	if cfg.Listen == "" {
		return opts, nil
	}
	rhost, rport, err := splitHostPort(cfg.Listen)
	if err != nil {
		return nil, err
	}
	opts.Cluster = server.ClusterOpts{
		Name: clusterName,
		Host: rhost,
		Port: randomIfZero(rport),
		// Clients are only ever our own in-process connection: do not
		// gossip client URLs of other nodes to them.
		NoAdvertise: true,
		// Routes learnt by gossip (implicit) are by default dialled once
		// after they drop, so two nodes that met only through gossip would
		// stay apart after a partition between them heals. Retry them once
		// a second for about an hour, as explicit Peers are for ever.
		ConnectRetries: implicitRouteRetries,
	}
	if cfg.RouteTLS != nil {
		opts.Cluster.TLSConfig = cfg.RouteTLS
		opts.Cluster.TLSTimeout = 5 // seconds, for the handshake
	}
	if cfg.Secret != "" {
		// Routes learnt by gossip get these credentials from nats-server;
		// the configured peers get them here.
		opts.Cluster.Username, opts.Cluster.Password = routeUser, cfg.Secret
	}
	for _, p := range cfg.Peers {
		u, err := url.Parse(p)
		if err != nil {
			return nil, err
		}
		if cfg.Secret != "" && u.User == nil {
			u.User = url.UserPassword(routeUser, cfg.Secret)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return opts, nil
}

// routeUser is the user name nodes present to each other's routes, with
// Config.Secret as the password.
const routeUser = "parley"

// openRoutes reports whether the route listener takes connections from
// other machines without authentication.
func openRoutes(cfg Config) bool {
	if cfg.Listen == "" || cfg.Secret != "" || cfg.RouteTLS != nil {
		return false
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func randomIfZero(port int) int {
	if port == 0 {
		return server.RANDOM_PORT
	}
	return port
}

// routeConnectErr starts nats-server's message for a failed route dial;
// routeWriteErr is its message for a write to a route that broke.
const (
	routeConnectErr = "Error trying to connect to route"
	routeWriteErr   = "Error flushing"
)

// natsLogger adapts nats-server's Logger to slog. Warnings and errors pass
// through at their level; notices go to debug (they are the startup banner
// and route chatter); Fatalf is logged as an error and never exits the
// process, unlike nats-server's own logger. The server is started with
// debug and trace off, so Debugf and Tracef are rarely called.
type natsLogger struct {
	log *slog.Logger

	mu    sync.Mutex // guards fatal
	fatal string     // last Fatalf message, for Start's error
}

func (l *natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *natsLogger) Errorf(format string, v ...any) {
	level := slog.LevelError
	if strings.HasPrefix(format, routeConnectErr) || strings.Contains(format, " - rid:") && strings.Contains(format, routeWriteErr) {
		// Every survivor logs these when a node leaves or dies, or a
		// route is cut; the membership layer reports the departure itself.
		level = slog.LevelWarn
	}
	l.logf(level, format, v)
}
func (l *natsLogger) Debugf(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l *natsLogger) Tracef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.fatal = msg
	l.mu.Unlock()
	l.log.Error(msg, "nats_fatal", true)
}

func (l *natsLogger) logf(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (l *natsLogger) lastFatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}
