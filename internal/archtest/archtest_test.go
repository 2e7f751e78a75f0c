package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/parley-im/parley"

// pkg is the part of `go list -json` these tests read, and what parsing the
// package's files found.
type pkg struct {
	ImportPath   string
	Name         string
	Dir          string
	GoFiles      []string
	TestGoFiles  []string
	XTestGoFiles []string
	Module       struct{ Dir string }

	doc     string   // package doc comment of the non-test files, else of the test files
	imports []string // imported by the non-test files
}

// rel is p's import path inside the module ("c2s", "modules/ping").
func (p pkg) rel() string { return strings.TrimPrefix(p.ImportPath, module+"/") }

// own is what p imports from this module, in module-relative form; test
// files' imports are not counted: tests may reach across layers.
func (p pkg) own() []string {
	var out []string
	for _, imp := range p.imports {
		if r, ok := strings.CutPrefix(imp, module+"/"); ok {
			out = append(out, r)
		}
	}
	return out
}

var (
	listOnce sync.Once
	listed   []pkg
	listErr  error
)

// packages lists every package of the module once per test binary.
func packages(t *testing.T) []pkg {
	t.Helper()
	listOnce.Do(func() { listed, listErr = goList() })
	if listErr != nil {
		t.Fatal(listErr)
	}
	return listed
}

// goList lists the module's packages with `go list` (which knows build
// constraints) and then parses their files here rather than taking go
// list's Imports and Doc: a test binary's cached result is reused only while
// the files it opened are unchanged, and go list's reads are not its own.
// For the same reason it reads every directory of the module, so that a new
// file or package also runs the tests again.
func goList() ([]pkg, error) {
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New("go list: " + err.Error() + ": " + stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		return nil, errors.New("go list found only a few packages; is it running in the module?")
	}
	for i := range pkgs {
		if err := parse(&pkgs[i]); err != nil {
			return nil, err
		}
	}
	return pkgs, readDirs(pkgs[0].Module.Dir)
}

// parse fills in p's doc comment and imports from its files.
func parse(p *pkg) error {
	fset := token.NewFileSet()
	seen := map[string]bool{}
	var testDoc string
	for _, name := range slices.Concat(p.GoFiles, p.TestGoFiles, p.XTestGoFiles) {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		test := strings.HasSuffix(name, "_test.go")
		if f.Doc != nil && !test && p.doc == "" {
			p.doc = f.Doc.Text()
		}
		if f.Doc != nil && test && testDoc == "" {
			testDoc = f.Doc.Text()
		}
		if test {
			continue
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if !seen[path] {
				seen[path] = true
				p.imports = append(p.imports, path)
			}
		}
	}
	if len(p.GoFiles) == 0 {
		// A package of tests alone (test/…) says what it is in a test file.
		p.doc = testDoc
	}
	return nil
}

// readDirs reads every directory go would look for packages in.
func readDirs(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == root {
			return err
		}
		if n := d.Name(); n == "testdata" || n == "node_modules" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			return filepath.SkipDir
		}
		return nil
	})
}

// TestPackageDoc: every package says what it does (STYLE.md), in a doc
// comment "Package <name> …" ("Command <name> …" for a main package). A
// package of tests alone (test/…) has it in one of its test files.
func TestPackageDoc(t *testing.T) {
	for _, p := range packages(t) {
		doc := p.doc
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command "
		}
		switch {
		case doc == "":
			t.Errorf("%s has no package doc comment", p.rel())
		case !strings.HasPrefix(doc, want):
			t.Errorf("%s: package doc should begin %q: %q", p.rel(), want, doc)
		}
	}
}

// A rule constrains what the packages matching from import (non-test files,
// this module's packages only). A pattern is a module-relative path, or one
// ending in "/..." for the path and everything under it.
type rule struct {
	from   []string
	only   []string // if set: nothing else may be imported
	not    []string // these may not be imported
	unless []string // packages from does not cover
	why    string
}

var (
	// The XMPP layers, bottom up as docs/architecture.md draws them.
	streams = []string{"c2s", "component"}
	// What serves operators rather than stanzas.
	operators = []string{"api", "admin", "accounts"}
	// Test harnesses: only tests and other harnesses use them.
	harnesses = []string{"internal/testkit/...", "modules/internal/modtest", "test/..."}
)

var rules = []rule{
	{from: []string{"stanza"}, only: []string{"jid"},
		why: "stanza is the bottom layer: XML and error conditions, no connections"},
	{from: []string{"jid"}, only: []string{"stanza"},
		why: "jid is the bottom layer: addresses only"},
	{from: []string{"config"}, only: []string{"jid", "stanza"},
		why: "configuration is read by server, it does not depend on what it configures"},
	{from: []string{"storage"},
		not: cat([]string{"sasl", "router", "im", "modules/...", "cluster/...", "server", "config"}, streams, operators),
		why: "storage knows SQL, not XMPP semantics or the layers above it"},
	{from: []string{"sasl"},
		not: cat([]string{"stanza", "router", "im", "modules/...", "cluster/...", "server"}, streams),
		why: "sasl does not speak XMPP"},
	{from: []string{"cluster"},
		not: cat([]string{"stanza", "router", "im", "modules/...", "cluster/directory", "server", "storage"}, streams, operators),
		why: "cluster is membership only; it routes no stanzas"},
	{from: []string{"router"},
		not: cat([]string{"im", "modules/...", "cluster/...", "server", "storage"}, streams, operators),
		why: "the router is the directory of sessions; policy is im's, connections are c2s's"},
	{from: []string{"im"},
		not: cat([]string{"modules/...", "cluster/...", "server"}, streams, operators),
		why: "im decides where a stanza goes and never touches a connection; modules register with it"},
	{from: []string{"modules/..."},
		not: cat([]string{"cluster/...", "server"}, streams, operators),
		why: "a module answers through im; it never reaches into a connection or the cluster"},
	{from: []string{"modules/..."}, unless: []string{"modules/internal/..."},
		not: []string{"modules/blocking", "modules/carbons", "modules/disco", "modules/mam", "modules/ping",
			"modules/private", "modules/push", "modules/register", "modules/vcard", "modules/version", "modules/xtime"},
		why: "one XEP per module: modules share code through modules/internal, not through each other"},
	{from: streams,
		not: []string{"storage", "modules/...", "cluster/...", "server", "api", "admin", "accounts"},
		why: "streams own connections: state goes through the session and im, not straight to storage"},
	{from: []string{"c2s"}, not: []string{"component"}, why: "the two listeners are independent"},
	{from: []string{"component"}, not: []string{"c2s"}, why: "the two listeners are independent"},
	{from: []string{"cluster/directory"},
		not: cat([]string{"modules/...", "server", "storage"}, streams, operators),
		why: "the directory carries sessions and stanzas between nodes; it does not decide routes or own connections"},
	{from: operators,
		not: cat([]string{"modules/...", "cluster/...", "server"}, streams),
		why: "the admin side goes through im, the router and storage, never through connections"},
	{from: []string{"admin", "accounts"}, not: []string{"im", "router"},
		why: "accounts and admin logins are storage and SASL; they end no sessions"},
	{from: []string{"..."}, unless: cat([]string{"cmd/..."}, harnesses),
		not: []string{"server"},
		why: "server assembles everything; only the CLI and the test harnesses start one"},
	{from: []string{"..."}, unless: harnesses,
		not: harnesses,
		why: "test harnesses are for tests"},
	{from: []string{"cmd/parley"}, only: []string{"server", "config", "accounts", "bench", "storage"},
		why: "a thin CLI: one client of the server package (STYLE.md)"},
	{from: []string{"bench"}, only: []string{"internal/xmppclient", "stanza", "jid"},
		why: "the load tool runs against any XMPP server, so it knows none of ours"},
	{from: []string{"internal/xmppclient"}, only: []string{"stanza", "jid"},
		why: "a client, not a part of the server"},
}

// exceptions are the imports the rules forbid that the tree has today, each
// with the work that removes it. A new violation fails TestImports; so does
// an exception that no longer happens (delete it here).
var exceptions = []struct{ from, to, why string }{
	{"c2s", "storage", "issue 11: stream management records (c2s/durable.go) and SCRAM look-ups " +
		"(c2s/negotiate.go) go to storage from the stream; a session package will own them"},
}

func cat(lists ...[]string) []string { return slices.Concat(lists...) }

// matches reports whether the module-relative path p matches one of pats.
func matches(p string, pats []string) bool {
	for _, pat := range pats {
		if pat == "..." {
			return true
		}
		if base, ok := strings.CutSuffix(pat, "/..."); ok {
			if p == base || strings.HasPrefix(p, base+"/") {
				return true
			}
		} else if p == pat {
			return true
		}
	}
	return false
}

func TestImports(t *testing.T) {
	pkgs := packages(t)
	used := make([]bool, len(exceptions))
	for _, p := range pkgs {
		from := p.rel()
		for _, r := range rules {
			if !matches(from, r.from) || matches(from, r.unless) {
				continue
			}
			for _, to := range p.own() {
				bad := matches(to, r.not) || (r.only != nil && !matches(to, r.only))
				if !bad {
					continue
				}
				i := slices.IndexFunc(exceptions, func(e struct{ from, to, why string }) bool {
					return e.from == from && e.to == to
				})
				if i >= 0 {
					used[i] = true
					continue
				}
				t.Errorf("%s imports %s: %s", from, to, r.why)
			}
		}
	}
	for i, e := range exceptions {
		if !used[i] {
			t.Errorf("exception %s → %s no longer happens: delete it from exceptions", e.from, e.to)
		}
	}
}

// TestRulesName: every package a rule names exists, so that a renamed or
// moved package does not leave a rule that silently checks nothing.
func TestRulesName(t *testing.T) {
	var rels []string
	for _, p := range packages(t) {
		rels = append(rels, p.rel())
	}
	exists := func(pat string) bool {
		return slices.ContainsFunc(rels, func(r string) bool { return matches(r, []string{pat}) })
	}
	for _, r := range rules {
		for _, pat := range cat(r.from, r.only, r.not, r.unless) {
			if !exists(pat) {
				t.Errorf("rule %q names %s, which matches no package", r.why, pat)
			}
		}
	}
	for _, e := range exceptions {
		if !exists(e.from) || !exists(e.to) {
			t.Errorf("exception %s → %s names a package that does not exist", e.from, e.to)
		}
	}
}
