package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/storage"
)

func loadConfig(path string) (config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func openStore(ctx context.Context, cfg config.Config) (*storage.SQL, error) {
	dsn := cfg.Storage.PostgresDSN
	if cfg.Storage.Driver == config.DriverSQLite {
		dsn = cfg.SQLitePath()
	}
	return storage.Open(ctx, cfg.Storage.Driver, dsn, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func configFlag(name string, args []string) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return "", false
	}
	return *path, true
}

func cmdCheckConfig(args []string) int {
	path, ok := configFlag("parley check-config", args)
	if !ok {
		return 2
	}
	if _, err := loadConfig(path); err != nil {
		fmt.Fprintln(os.Stderr, "parley: configuration is not valid:")
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("configuration OK")
	return 0
}

func cmdServe(args []string) int {
	path, ok := configFlag("parley serve", args)
	if !ok {
		return 2
	}
	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley: configuration is not valid:")
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	server.Version = version
	srv, err := server.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		return 1
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := srv.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "parley: cannot start:", err)
		return 1
	}
	if srv.CertCreated {
		log.Info("generated a self-signed certificate; clients will ask you to trust it", "path", srv.CertPath)
	} else {
		log.Info("using certificate", "path", srv.CertPath)
	}
	log.Info("parley is ready", "version", version, "hosts", cfg.Hosts, "storage", cfg.Storage.Driver)

	// A cluster node drains on SIGTERM or `parley drain`; a node alone
	// has nowhere to send its clients and shuts down on a signal. A second
	// signal during a drain cuts it short.
	drain := false
	select {
	case sig := <-sigs:
		drain = cfg.Cluster.Enabled()
		log.Info("signal received", "signal", sig.String())
	case <-srv.DrainRequested():
		drain = true
	}
	if !drain {
		log.Info("shutting down: closing every stream")
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Error("shutdown", "err", err)
			return 1
		}
		return 0
	}
	dctx, cancel := context.WithTimeout(context.Background(), cfg.Cluster.DrainTimeout)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			log.Warn("second signal: cutting the drain short")
			cancel()
		case <-dctx.Done():
		}
	}()
	var lastLog time.Time
	err = srv.Drain(dctx, func(open int) {
		if time.Since(lastLog) >= time.Second {
			lastLog = time.Now()
			log.Info("draining", "connections_open", open)
		}
	})
	if err != nil {
		log.Error("drain", "err", err)
		return 1
	}
	log.Info("drained and stopped")
	return 0
}
