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
