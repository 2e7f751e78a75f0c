package admin

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// webDir writes a web directory with the dashboard's files, and uPlot's
// unless without.
func webDir(t *testing.T, withUPlot bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"admin/index.html": "<!doctype html><title>dash</title>",
		"admin/admin.js":   "// js",
		"chat/index.html":  "not the dashboard's",
	}
	if withUPlot {
		files["node_modules/uplot/dist/uPlot.iife.min.js"] = "// uplot"
		files["node_modules/uplot/dist/uPlot.min.css"] = "/* css */"
		files["node_modules/uplot/package.json"] = "{}"
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFiles(t *testing.T) {
	dir := webDir(t, true)
	e := newEnv(t, func(c *Config) { c.WebDir = dir })

	resp := e.do("GET", "/admin", "")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin/" {
		t.Fatalf("/admin: %d to %q, want a redirect to /admin/", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]string{
		"/admin/":                      "<!doctype html><title>dash</title>",
		"/admin/index.html":            "<!doctype html><title>dash</title>",
		"/admin/admin.js":              "// js",
		"/web/uplot/uPlot.iife.min.js": "// uplot",
		"/web/uplot/uPlot.min.css":     "/* css */",
	} {
		resp := e.do("GET", path, "")
		if got := body(t, resp); resp.StatusCode != http.StatusOK || got != want {
			t.Errorf("%s: %d %q, want 200 %q", path, resp.StatusCode, got, want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
	}
	if ct := e.do("GET", "/admin/admin.js", "").Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("admin.js: Content-Type %q", ct)
	}
	// Nothing else of the web directory, no listings, no way out.
	for _, path := range []string{
		"/admin/missing.js", "/admin/../chat/index.html", "/admin/%2e%2e/chat/index.html", "/admin/..%2fchat/index.html",
		"/web/uplot/", "/web/uplot/../package.json", "/web/uplot/..%2fpackage.json", "/admin/.", "/admin//admin.js",
	} {
		if resp := e.do("GET", path, ""); resp.StatusCode == http.StatusOK {
			t.Errorf("%s: 200 %q, want none", path, body(t, resp))
		}
	}
}

func TestFilesNotBuilt(t *testing.T) {
	for name, dir := range map[string]string{
		"no node_modules": webDir(t, false),
		"no web dir":      filepath.Join(t.TempDir(), "nothing"),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.WebDir = dir })
			resp := e.do("GET", "/admin/", "")
			b := body(t, resp)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(b, "npm ci --prefix web") || !strings.Contains(b, "not built") {
				t.Fatalf("/admin/: %d %s", resp.StatusCode, b)
			}
			if resp := e.do("GET", "/web/uplot/uPlot.iife.min.js", ""); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("uPlot: %d, want 404", resp.StatusCode)
			}
		})
	}
}
