package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/server"
)

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWebChat starts a server serving the web chat from webDir, with
// the admin API on, and returns its HTTP address and its log.
func startWebChat(t *testing.T, webDir string) (string, *logBuffer) {
	t.Helper()
	cfg := config.Default()
	cfg.Hosts = []string{"chat.example", "localhost"}
	cfg.DataDir = t.TempDir()
	sockDir, err := os.MkdirTemp("", "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	cfg.ControlSocket = filepath.Join(sockDir, "parley.sock")
	cfg.Listeners.C2S.Address = "127.0.0.1:0"
	cfg.Listeners.C2STLS.Address = "127.0.0.1:0"
	cfg.Listeners.HTTP.Address = "127.0.0.1:0"
	cfg.Listeners.HTTP.WebDir = webDir
	cfg.API = config.API{Enabled: true, Tokens: []string{strings.Repeat("t", config.MinAPITokenLength)}}
	logs := &logBuffer{}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr("http").String(), logs
}

// writeWebFiles creates files (path: content) under dir.
func writeWebFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type webResponse struct {
	status int
	header http.Header
	body   string
}

// webFetch requests path as is (no cleaning, no redirects followed).
func webFetch(t *testing.T, method, addr, path string, header http.Header) webResponse {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path // sent verbatim: "..", "%2e" and all
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return webResponse{resp.StatusCode, resp.Header, string(b)}
}

// A built web directory: the page at /, our files, Converse's dist with
// the right content types and caching, the domain in /web/config.js, and
// nothing outside the two directories, however the path is spelled. The
// admin API under /api/ still answers.
func TestWebChatServed(t *testing.T) {
	root := t.TempDir()
	web := filepath.Join(root, "web")
	dist := "node_modules/converse.js/dist/"
	writeWebFiles(t, root, map[string]string{
		"secret.txt":          "outside web_dir",
		"web/package.json":    `{"name": "parley-web"}`,
		"web/chat/index.html": "<!DOCTYPE html><title>Parley web chat</title>",
		"web/chat/chat.js":    "// chat",
		"web/node_modules/converse.js/package.json": `{"name": "converse.js", "version": "14.0.0"}`,
		"web/node_modules/converse.js/secret.txt":   "outside dist",
		"web/" + dist + "converse.min.js":           "export default {};",
		"web/" + dist + "converse.min.css":          "body{}",
		"web/" + dist + "converse.min.js.map":       "{}",
		"web/" + dist + "curve25519_compiled.wasm":  "\x00asm",
		"web/" + dist + "emoji.json":                "{}",
		"web/" + dist + "webfonts/muli.ttf":         "ttf",
		"web/" + dist + "webfonts/x.woff2":          "woff2",
		"web/" + dist + "images/logo/logo.svg":      "<svg/>",
		"web/" + dist + "images/favicon.ico":        "ico",
		"web/" + dist + "sounds/msg_received.ogg":   "ogg",
		"web/" + dist + "sounds/msg_received.mp3":   "mp3",
		"web/" + dist + "sounds/README":             "readme",
	})
	// A symbolic link out of dist is not followed out of it.
	if err := os.Symlink(filepath.Join(root, "secret.txt"), filepath.Join(web, filepath.FromSlash(dist), "link.txt")); err != nil {
		t.Fatal(err)
	}
	addr, logs := startWebChat(t, web)

	page := webFetch(t, "GET", addr, "/", nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Parley web chat") {
		t.Fatalf("GET /: %d %q", page.status, page.body)
	}
	if ct := page.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET /: Content-Type %q", ct)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	if head := webFetch(t, "HEAD", addr, "/", nil); head.status != http.StatusOK || head.body != "" {
		t.Errorf("HEAD /: %d %q", head.status, head.body)
	}

	cfg := webFetch(t, "GET", addr, "/web/config.js", nil)
	if cfg.status != http.StatusOK || cfg.body != "export default {\"domain\":\"chat.example\"};\n" {
		t.Errorf("GET /web/config.js: %d %q", cfg.status, cfg.body)
	}

	types := map[string]string{
		"/web/chat/chat.js":                             "text/javascript; charset=utf-8",
		"/web/converse/converse.min.js":                 "text/javascript; charset=utf-8",
		"/web/converse/converse.min.css":                "text/css; charset=utf-8",
		"/web/converse/converse.min.js.map":             "application/json",
		"/web/converse/curve25519_compiled.wasm":        "application/wasm",
		"/web/converse/emoji.json":                      "application/json",
		"/web/converse/webfonts/muli.ttf":               "font/ttf",
		"/web/converse/webfonts/x.woff2":                "font/woff2",
		"/web/converse/images/logo/logo.svg":            "image/svg+xml",
		"/web/converse/images/favicon.ico":              "image/x-icon",
		"/web/converse/sounds/msg_received.ogg":         "audio/ogg",
		"/web/converse/sounds/msg_received.mp3":         "audio/mpeg",
		"/web/converse/sounds/README":                   "application/octet-stream",
		"/web/converse/images/logo/../favicon.ico":      "", // cleaned by the mux: a redirect
		"/web/converse/images/logo/%2e%2e/favicon.ico":  "",
		"/web/converse/images%2flogo%2flogo.svg":        "image/svg+xml", // an escaped slash is a slash
		"/web/converse/images/logo/logo.svg?v=14.0.0":   "image/svg+xml",
		"/web/converse/images/logo/logo.svg/":           "",
		"/web/converse/images/logo/nothing-there.svg":   "",
		"/web/converse/images/logo/logo.svg%00.txt":     "",
		"/web/converse/images/logo/logo.svg%5c..%5cx":   "",
		"/web/converse/images/logo/%2e%2e%2f%2e%2e%2fx": "",
	}
	for path, want := range types {
		r := webFetch(t, "GET", addr, path, nil)
		switch {
		case want == "" && r.status == http.StatusOK:
			t.Errorf("GET %s: 200 %q, want no file", path, r.body)
		case want != "" && r.status != http.StatusOK:
			t.Errorf("GET %s: %d, want 200", path, r.status)
		case want != "" && r.header.Get("Content-Type") != want:
			t.Errorf("GET %s: Content-Type %q, want %q", path, r.header.Get("Content-Type"), want)
		case want != "" && r.header.Get("X-Content-Type-Options") != "nosniff":
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", path)
		}
	}

	// Nothing outside chat/ and dist/, nor directory listings.
	for _, path := range []string{
		"/web/converse/../secret.txt", "/web/converse/../../../secret.txt",
		"/web/converse/%2e%2e/secret.txt", "/web/converse/%2e%2e/%2e%2e/%2e%2e/secret.txt",
		"/web/converse/..%2fsecret.txt", "/web/converse/..%2f..%2f..%2fsecret.txt",
		"/web/converse/%2e%2e%2fpackage.json", "/web/converse/..%5csecret.txt",
		"/web/chat/..%2fpackage.json", "/web/chat/%2e%2e/package.json", "/web/chat/../package.json",
		"/web/converse/link.txt", "/web/converse//etc/passwd", "/web/converse/%2fetc%2fpasswd",
		"/web/converse/", "/web/converse/images/", "/web/converse/images", "/web/chat/",
		"/secret.txt", "/web/secret.txt", "/web/", "/web", "/index.html",
	} {
		r := webFetch(t, "GET", addr, path, nil)
		if r.status == http.StatusOK || strings.Contains(r.body, "outside") {
			t.Errorf("GET %s: %d %q, want 404 (or a redirect to a 404)", path, r.status, r.body)
		}
		if loc := r.header.Get("Location"); loc != "" {
			if r2 := webFetch(t, "GET", addr, loc, nil); r2.status == http.StatusOK || strings.Contains(r2.body, "outside") {
				t.Errorf("GET %s → %s: %d %q, want 404", path, loc, r2.status, r2.body)
			}
		}
	}

	// Converse's files are cached for an hour and revalidated by version
	// and size (npm gives them all one modification time); ours always.
	js := webFetch(t, "GET", addr, "/web/converse/converse.min.js", nil)
	etag := js.header.Get("ETag")
	if cc := js.header.Get("Cache-Control"); cc != "public, max-age=3600" || !strings.HasPrefix(etag, `"14.0.0-`) || js.header.Get("Last-Modified") != "" {
		t.Errorf("converse.min.js: Cache-Control %q, ETag %q, Last-Modified %q", cc, etag, js.header.Get("Last-Modified"))
	}
	if r := webFetch(t, "GET", addr, "/web/converse/converse.min.js", http.Header{"If-None-Match": {etag}}); r.status != http.StatusNotModified {
		t.Errorf("converse.min.js with If-None-Match: %d, want 304", r.status)
	}
	for _, path := range []string{"/", "/web/chat/chat.js", "/web/config.js"} {
		if cc := webFetch(t, "GET", addr, path, nil).header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", path, cc)
		}
	}

	// "/" for GET did not take over the admin API, nor other methods.
	token := http.Header{"Authorization": {"Bearer " + strings.Repeat("t", config.MinAPITokenLength)}}
	if r := webFetch(t, "GET", addr, "/api/v1/users", token); r.status != http.StatusOK || !strings.Contains(r.header.Get("Content-Type"), "json") {
		t.Errorf("GET /api/v1/users: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := webFetch(t, "POST", addr, "/api/v1/nothing-here", token); r.status != http.StatusNotFound || !strings.Contains(r.header.Get("Content-Type"), "json") {
		t.Errorf("POST /api/v1/nothing-here: %d %q %q, want the API's JSON 404", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := webFetch(t, "POST", addr, "/", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", r.status)
	}
	if r := webFetch(t, "GET", addr, "/healthz", nil); r.status != http.StatusOK {
		t.Errorf("GET /healthz: %d", r.status)
	}

	if strings.Contains(logs.String(), "web chat") {
		t.Errorf("a built web chat logged about itself:\n%s", logs.String())
	}
}

// Without npm's install (a fresh clone), / says how to build the chat
// and the server says so once in its log at startup.
func TestWebChatNotBuilt(t *testing.T) {
	web := filepath.Join(t.TempDir(), "web")
	writeWebFiles(t, web, map[string]string{
		"package.json":    `{"name": "parley-web"}`,
		"chat/index.html": "<!DOCTYPE html><title>Parley web chat</title>",
	})
	addr, logs := startWebChat(t, web)

	page := webFetch(t, "GET", addr, "/", nil)
	if page.status != http.StatusServiceUnavailable || page.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("GET /: %d %q, want 503 text/html", page.status, page.header.Get("Content-Type"))
	}
	for _, want := range []string{"npm ci --prefix " + web, "apt-get install nodejs npm", "not built"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("GET /: the page lacks %q:\n%s", want, page.body)
		}
	}
	if r := webFetch(t, "GET", addr, "/web/converse/converse.min.js", nil); r.status != http.StatusNotFound {
		t.Errorf("GET /web/converse/converse.min.js: %d, want 404", r.status)
	}

	var warns []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "web chat") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "level=WARN") || !strings.Contains(warns[0], "npm ci --prefix "+web) ||
		!strings.Contains(warns[0], "apt-get install nodejs npm") {
		t.Errorf("want one WARN line saying how to build the web chat, got:\n%s", strings.Join(warns, "\n"))
	}
}
