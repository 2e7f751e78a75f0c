package server_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
)

// httpGet fetches a path from a server's HTTP listener.
func httpGet(t *testing.T, srv *testserver.Server, path string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: crossWait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("http://" + srv.HTTP() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The dashboard is mounted beside the web chat and the API: its page,
// uPlot, and a plain answer when the web directory lacks them.
func TestAdminDashboardServed(t *testing.T) {
	repoWeb, err := filepath.Abs(filepath.Join("..", "web"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("built", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(repoWeb, "node_modules", "uplot", "dist", "uPlot.iife.min.js")); err != nil {
			t.Skip("web/node_modules lacks uPlot (npm ci --ignore-scripts --prefix web)")
		}
		srv := testserver.Start(t, func(c *config.Config) { c.Listeners.HTTP.WebDir = repoWeb })
		if code, _ := httpGet(t, srv, "/admin"); code != http.StatusFound {
			t.Fatalf("/admin: %d, want a redirect", code)
		}
		for path, want := range map[string]string{
			"/admin/":                      "Parley admin",
			"/admin/admin.js":              "/api/v1/cluster/stats",
			"/admin/admin.css":             ".node-column",
			"/web/uplot/uPlot.iife.min.js": "uPlot",
		} {
			if code, body := httpGet(t, srv, path); code != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("%s: %d, want 200 with %q", path, code, want)
			}
		}
	})
	t.Run("not built", func(t *testing.T) {
		srv := testserver.Start(t, func(c *config.Config) { c.Listeners.HTTP.WebDir = t.TempDir() })
		code, body := httpGet(t, srv, "/admin/")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "npm ci --prefix web") {
			t.Fatalf("/admin/: %d %s", code, body)
		}
		if code, _ := httpGet(t, srv, "/web/uplot/uPlot.iife.min.js"); code != http.StatusNotFound {
			t.Fatalf("uPlot without node_modules: %d", code)
		}
	})
}
