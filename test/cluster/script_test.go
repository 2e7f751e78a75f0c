package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// script is a running client script that takes turns with the test: it
// prints "@ WHAT ..." lines (markers) and reads the test's answers on stdin.
type script struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *syncBuffer // everything it printed
	markers chan string // "@ " lines, without the "@ "
	cancel  context.CancelFunc
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// startScript runs /usr/bin/python3 with args, for at most timeout. At the
// deadline it gets SIGINT, so that it prints its stanza trace, and SIGKILL
// if it does not exit. Its output is shown if the test fails.
func startScript(t *testing.T, timeout time.Duration, args ...string) *script {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	s := &script{
		name:    args[0],
		out:     &syncBuffer{},
		markers: make(chan string, 64),
		cancel:  cancel,
		exited:  make(chan struct{}),
	}
	s.cmd = exec.CommandContext(ctx, python, args...)
	s.cmd.Env = cleanEnv()
	w := &markerWriter{out: s.out, markers: s.markers}
	s.cmd.Stdout = w
	s.cmd.Stderr = s.out
	s.cmd.Cancel = func() error { return s.cmd.Process.Signal(os.Interrupt) }
	s.cmd.WaitDelay = 5 * time.Second
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = stdin
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", s.name, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stdin.Close()
		s.cancel() // SIGINT, then SIGKILL after WaitDelay, if still running
		<-s.exited
		if t.Failed() {
			t.Logf("output of %s:\n%s", s.name, s.out.String())
		}
	})
	return s
}

// expect waits for the marker line "@ what ..." and returns the words after
// what. It fails the test if the script exits or another marker comes
// first, or none within timeout.
func (s *script) expect(t *testing.T, what string, timeout time.Duration) []string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m := <-s.markers:
		words := strings.Fields(m)
		if len(words) == 0 || words[0] != what {
			t.Fatalf("%s: want marker %q, got %q", s.name, what, m)
		}
		return words[1:]
	case <-s.exited:
		// The marker may have been written just before the exit.
		select {
		case m := <-s.markers:
			if words := strings.Fields(m); len(words) > 0 && words[0] == what {
				return words[1:]
			}
		default:
		}
		t.Fatalf("%s exited (%v) while the test waited for %q", s.name, s.waitErr, what)
	case <-timer.C:
		t.Fatalf("%s: no %q after %v", s.name, what, timeout)
	}
	return nil
}

// send writes one line to the script's stdin.
func (s *script) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: writing %q: %v", s.name, line, err)
	}
}

// wait waits for the script to exit and fails the test unless it exits 0.
func (s *script) wait(t *testing.T) {
	t.Helper()
	s.stdin.Close()
	<-s.exited // bounded by the script's deadline
	if s.waitErr != nil {
		t.Fatalf("%s: %v", s.name, s.waitErr)
	}
}

// markerWriter keeps everything written and passes on each "@ " line.
type markerWriter struct {
	out     *syncBuffer
	partial []byte // an unfinished line; Write is called by one goroutine
	markers chan string
}

func (w *markerWriter) Write(p []byte) (int, error) {
	w.out.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if m, ok := strings.CutPrefix(line, "@ "); ok {
			select {
			case w.markers <- m:
			default:
				fmt.Fprintf(w.out, "(cluster test: marker %q dropped, too many unread)\n", m)
			}
		}
	}
	return len(p), nil
}
