package server

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The control socket is how `parley drain` asks a running node to drain:
// a Unix socket in the data directory, reachable only by whoever may read
// that directory (mode 0600), so it needs no password of its own. The
// protocol is lines of text: the client sends "drain"; the node answers
// "open N" (client connections still open) every half second while it
// drains, then "done" or "done error: …" when it is about to exit.

// maxSocketPath is the longest path a Unix socket may have on Linux
// (sun_path holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

func (s *Server) startControl() error {
	path := s.cfg.ControlSocketPath()
	if len(path) > maxSocketPath {
		return fmt.Errorf("control_socket %s: the path is longer than a Unix socket allows (%d bytes); set a shorter control_socket", path, maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		_ = c.Close()
		return fmt.Errorf("control_socket %s answers: another parley is running with this data_dir or control_socket", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("control_socket: %w", err)
	}
	_ = os.Remove(path) // left by a process that died
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control_socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return fmt.Errorf("control_socket: %w", err)
	}
	s.control = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed by Shutdown
			}
			go s.controlConn(c)
		}
	}()
	return nil
}

// controlConn serves one control client.
func (s *Server) controlConn(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	switch cmd := strings.TrimSpace(line); cmd {
	case "drain":
		s.reporters.Add(1)
		defer s.reporters.Done()
		s.requestDrain()
		s.reportDrain(c)
	default:
		fmt.Fprintf(c, "error unknown command %q (known: drain)\n", cmd)
	}
}

// reportDrain tells a control client how the drain goes until it is over.
func (s *Server) reportDrain(c net.Conn) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		open := 0
		if s.c2s != nil {
			open = s.c2s.Count()
		}
		if _, err := fmt.Fprintf(c, "open %d\n", open); err != nil {
			return
		}
		select {
		case <-s.drained:
			if s.drainErr != nil {
				fmt.Fprintf(c, "done error: %v\n", s.drainErr)
			} else {
				fmt.Fprintln(c, "done")
			}
			return
		case <-t.C:
		}
	}
}
