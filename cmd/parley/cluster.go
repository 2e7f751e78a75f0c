package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-im/parley/server"
)

func cmdCluster(args []string) int {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprint(os.Stderr, "parley cluster: want 'status'\n\n"+usage)
		return 2
	}
	fs := flag.NewFlagSet("parley cluster status", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (to find the HTTP listener)")
	url := fs.String("url", "", "the node's HTTP address, e.g. http://127.0.0.1:5280 (default: from the configuration)")
	asJSON := fs.Bool("json", false, "print the raw JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	base := *url
	if base == "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley:", err)
			return 1
		}
		if cfg.Listeners.HTTP.Address == "" {
			fmt.Fprintln(os.Stderr, "parley: listeners.http.address is empty: no status to ask for (give --url)")
			return 2
		}
		base = "http://" + localAddr(cfg.Listeners.HTTP.Address)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(strings.TrimRight(base, "/") + "/cluster")
	if err != nil {
		fmt.Fprintf(os.Stderr, "parley: cannot reach the node at %s: %v\n", base, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "parley: %s/cluster answered %s\n", base, resp.Status)
		return 1
	}
	var st server.ClusterStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		fmt.Fprintf(os.Stderr, "parley: unreadable answer from %s: %v\n", base, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return 0
	}
	if !st.Clustered {
		fmt.Println("not clustered: this server runs alone")
	} else {
		fmt.Printf("cluster seen from node %s: %d live node(s)\n", st.Node, len(st.Nodes))
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tSESSIONS\tUPTIME\tVERSION\tLAST SEEN")
	for _, n := range st.Nodes {
		name := n.Name
		if n.Self {
			name += " (this)"
		}
		state := "serving"
		if n.Draining {
			state = "draining"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s ago\n", name, state, n.Sessions, n.Uptime, n.Version, time.Since(n.LastSeen).Round(100*time.Millisecond))
	}
	_ = tw.Flush()
	return 0
}

// localAddr turns a listen address into one to connect to: an empty or
// wildcard host means this machine.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
