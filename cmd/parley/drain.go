package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
)

// cmdDrain asks a running node to drain (over its control socket) and
// follows the drain until the node has exited.
func cmdDrain(args []string) int {
	fs := flag.NewFlagSet("parley drain", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the node's configuration file (to find its control socket)")
	sock := fs.String("socket", "", "the node's control socket (default: control_socket from the configuration)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "parley drain: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	path := *sock
	if path == "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley:", err)
			return 1
		}
		path = cfg.ControlSocketPath()
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "parley: cannot reach a running node at %s: %v\n(is it running, with this --config? the socket is control_socket, by default <data_dir>/parley.sock)\n", path, err)
		return 1
	}
	defer c.Close()
	if _, err := fmt.Fprintln(c, "drain"); err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		return 1
	}
	fmt.Println("draining: the node accepts no new clients and is moving its clients away (to the other nodes of its cluster)")
	sc := bufio.NewScanner(c)
	last := -1
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "open "):
			var n int
			if _, err := fmt.Sscanf(line, "open %d", &n); err == nil && n != last {
				fmt.Printf("%d client connection(s) still open\n", n)
				last = n
			}
		case line == "done":
			fmt.Println("drained: every client has left; the node is shutting down")
			return 0
		case strings.HasPrefix(line, "done error: "):
			fmt.Fprintln(os.Stderr, "parley: the drain ended with an error:", strings.TrimPrefix(line, "done error: "))
			return 1
		case strings.HasPrefix(line, "error "):
			fmt.Fprintln(os.Stderr, "parley: the node answered:", strings.TrimPrefix(line, "error "))
			return 1
		}
	}
	fmt.Fprintln(os.Stderr, "parley: the node closed the control connection before the drain was over (did it crash? see its log)")
	return 1
}
