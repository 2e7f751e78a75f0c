// Command parley is the Parley XMPP server and its administration tool.
// It is a thin client of the server, config and storage packages.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `parley — a distributed XMPP server

Usage:
  parley serve [--config FILE]            run the server
  parley check-config [--config FILE]     validate the configuration and exit
  parley user add JID [--password P]      create an account (password from stdin when omitted)
  parley user del JID                     delete an account and everything it owns
  parley user passwd JID [--password P]   set a new password
  parley user list [DOMAIN]               list accounts
  parley cluster status [--url URL]       list the live nodes of the cluster
  parley drain [--config FILE]            move a running node's clients away, then stop it
  parley bench [flags]                    load-test a server (parley bench -h)
  parley version                          print the version

Every command takes --config FILE; without it the built-in defaults apply
(domain localhost, data in ./data). Every setting can also be given in the
environment as PARLEY_<KEY>, e.g. PARLEY_HOSTS=example.com.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(rest)
	case "check-config":
		return cmdCheckConfig(rest)
	case "user":
		return cmdUser(rest)
	case "bench":
		return cmdBench(rest)
	case "cluster":
		return cmdCluster(rest)
	case "drain":
		return cmdDrain(rest)
	case "version", "--version", "-v":
		fmt.Println("parley", version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "parley: unknown command %q\n\n%s", cmd, usage)
	return 2
}
