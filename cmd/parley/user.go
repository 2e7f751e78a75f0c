package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parley-im/parley/accounts"
	"github.com/parley-im/parley/storage"
)

func cmdUser(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, "parley user: want add, del, passwd or list\n\n"+usage)
		return 2
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "del", "passwd", "list":
	default:
		fmt.Fprintf(os.Stderr, "parley user: unknown subcommand %q (want add, del, passwd or list)\n", sub)
		return 2
	}
	fs := flag.NewFlagSet("parley user "+sub, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	password := fs.String("password", "", "the password (read from stdin when omitted)")
	// Accept flags before or after the positional argument.
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		return 1
	}
	ctx := context.Background()
	store, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		return 1
	}
	defer store.Close()

	if sub == "list" {
		domain := ""
		if len(positional) > 0 {
			domain = positional[0]
		}
		users, err := store.Accounts(ctx, domain)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley:", err)
			return 1
		}
		for _, u := range users {
			fmt.Println(u)
		}
		return 0
	}
	if len(positional) != 1 {
		fmt.Fprintf(os.Stderr, "parley user %s: want exactly one JID, like alice@%s\n", sub, cfg.Hosts[0])
		return 2
	}
	user, err := accounts.ParseJID(positional[0], cfg.Hosts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		return 2
	}
	switch sub {
	case "add", "passwd":
		pw := *password
		if pw == "" {
			if pw, err = readPassword(os.Stdin); err != nil {
				fmt.Fprintln(os.Stderr, "parley:", err)
				return 2
			}
		}
		if sub == "add" {
			err = accounts.Create(ctx, store, user, pw, cfg.Auth.SCRAMIterations)
			if errors.Is(err, storage.ErrExists) {
				fmt.Fprintf(os.Stderr, "parley: %s already exists (use 'parley user passwd' to change its password)\n", user)
				return 1
			}
		} else {
			err = accounts.SetPassword(ctx, store, user, pw, cfg.Auth.SCRAMIterations)
		}
		if errors.Is(err, accounts.ErrBadPassword) {
			fmt.Fprintln(os.Stderr, "parley:", err)
			return 2
		}
		if errors.Is(err, storage.ErrNotFound) {
			fmt.Fprintf(os.Stderr, "parley: no account %s\n", user)
			return 1
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley:", err)
			return 1
		}
		if sub == "add" {
			fmt.Printf("created %s\n", user)
		} else {
			fmt.Printf("password changed for %s\n", user)
		}
	case "del":
		if err := store.DeleteAccount(ctx, user.String()); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				fmt.Fprintf(os.Stderr, "parley: no account %s\n", user)
			} else {
				fmt.Fprintln(os.Stderr, "parley:", err)
			}
			return 1
		}
		fmt.Printf("deleted %s\n", user)
	}
	return 0
}

// readPassword reads one line from r.
func readPassword(r io.Reader) (string, error) {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(os.Stderr, "password: ")
		}
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password given (use --password or pipe it on stdin)")
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password")
	}
	return pw, nil
}
