package server

import (
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The web chat: Converse.js, installed by npm into web_dir (never copied
// into the repository), and our page configuring it for this server.
//
//	/                  web_dir/chat/index.html, or how to build the chat
//	/web/chat/...      web_dir/chat/... (the page's script and style)
//	/web/config.js     the page's settings: this server's domain
//	/web/converse/...  web_dir/node_modules/converse.js/dist/...
//
// Files are served only from those directories, through os.Root, so no
// path (.., symlinks) reaches outside them, and never as listings.

const (
	webChatDir      = "chat" // index.html: the page at /
	webConverseDist = "node_modules/converse.js/dist"
	webConverseMain = "converse.min.js" // present once the chat is built
	webConversePkg  = "node_modules/converse.js/package.json"
)

// webChat serves the browser side from dir (listeners.http.web_dir).
type webChat struct {
	dir    string // as configured (relative to the working directory or not)
	domain string // the domain the page logs in to
}

// mountWebChat adds the web chat to mux, warning once if it is not built.
// "/" is registered for GET at that path alone ("GET /{$}"): a GET
// catch-all would clash with the admin API at /api/ for every method.
func (s *Server) mountWebChat(mux *http.ServeMux) {
	wc := &webChat{dir: s.cfg.Listeners.HTTP.WebDir}
	if len(s.cfg.Hosts) > 0 {
		wc.domain = s.cfg.Hosts[0]
	}
	if !wc.built() {
		where := filepath.Join(wc.dir, webConverseDist)
		if abs, err := filepath.Abs(where); err == nil {
			where = abs
		}
		s.log.Warn("the web chat at / is not built: " + where + " is missing; " + wc.buildHint())
	}
	mux.HandleFunc("GET /{$}", wc.page)
	mux.HandleFunc("GET /web/config.js", wc.config)
	mux.HandleFunc("GET /web/chat/{file...}", wc.chatFile)
	mux.HandleFunc("GET /web/converse/{file...}", wc.converseFile)
}

// built reports whether npm has installed Converse.js under dir.
func (wc *webChat) built() bool {
	fi, err := os.Stat(filepath.Join(wc.dir, webConverseDist, webConverseMain))
	return err == nil && fi.Mode().IsRegular()
}

// buildHint says how to build the chat, for the log.
func (wc *webChat) buildHint() string {
	return fmt.Sprintf("build it with `npm ci --prefix %s` from Parley's source directory "+
		"(needs Node.js and npm; Debian: apt-get install nodejs npm), or point listeners.http.web_dir at a built web directory", wc.dir)
}

// page serves the chat page, or a page saying how to build the chat.
func (wc *webChat) page(w http.ResponseWriter, r *http.Request) {
	if !wc.built() {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Parley: web chat not built</title></head>\n"+
			"<body><h1>The web chat is not built</h1>\n<p>%s.</p>\n"+
			"<p>Parley's web chat is Converse.js, installed by npm at build time. "+
			"Install Node.js and npm (Debian: <code>apt-get install nodejs npm</code>), run "+
			"<code>npm ci --prefix %s</code> in Parley's source directory, then reload this page.</p>\n</body></html>\n",
			html.EscapeString(filepath.Join(wc.dir, webConverseDist)+" is missing"), html.EscapeString(wc.dir))
		return
	}
	setPageHeaders(w)
	serveFrom(w, r, filepath.Join(wc.dir, webChatDir), "index.html", "no-cache", "")
}

// setPageHeaders keeps the page to this server's own resources: scripts,
// styles, fonts and connections (WebSocket, BOSH) from this origin only;
// images and media that users link to may come from elsewhere.
func setPageHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "+
		"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; media-src 'self' blob: https:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// config serves the page's settings as a JavaScript module.
func (wc *webChat) config(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(struct {
		Domain string `json:"domain"`
	}{wc.domain})
	if err != nil { // a struct of strings always encodes
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	fmt.Fprintf(w, "export default %s;\n", b)
}

// chatFile serves our own files (web_dir/chat), revalidated on every use.
func (wc *webChat) chatFile(w http.ResponseWriter, r *http.Request) {
	serveFrom(w, r, filepath.Join(wc.dir, webChatDir), r.PathValue("file"), "no-cache", "")
}

// converseFile serves Converse.js's dist directory. npm gives every file
// the same modification time, so the validator is the package version
// and the file's size, and browsers keep a file for an hour.
func (wc *webChat) converseFile(w http.ResponseWriter, r *http.Request) {
	serveFrom(w, r, filepath.Join(wc.dir, webConverseDist), r.PathValue("file"), "public, max-age=3600", wc.converseVersion())
}

// converseVersion is the installed Converse.js version, or "" if unknown.
func (wc *webChat) converseVersion() string {
	b, err := os.ReadFile(filepath.Join(wc.dir, webConversePkg))
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

// serveFrom serves the regular file name from inside dir, or 404. With a
// version the ETag is version and size, and Last-Modified is left out;
// without one, Last-Modified is the file's.
func serveFrom(w http.ResponseWriter, r *http.Request, dir, name, cacheControl, version string) {
	if !fs.ValidPath(name) || name == "." || strings.Contains(name, `\`) {
		http.NotFound(w, r)
		return
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil { // absent, or outside dir
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", webContentType(name))
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	modTime := fi.ModTime()
	if version != "" {
		h.Set("ETag", strconv.Quote(version+"-"+strconv.FormatInt(fi.Size(), 36)))
		modTime = time.Time{} // ServeContent then sends no Last-Modified
	}
	http.ServeContent(w, r, name, modTime, f)
}

// webTypes are the content types of what the web chat serves, fixed here
// rather than taken from the machine's MIME database.
var webTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".wasm":  "application/wasm",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".jpg":   "image/jpeg",
	".gif":   "image/gif",
	".webp":  "image/webp",
	".ico":   "image/x-icon",
	".ttf":   "font/ttf",
	".otf":   "font/otf",
	".woff":  "font/woff",
	".woff2": "font/woff2",
	".mp3":   "audio/mpeg",
	".ogg":   "audio/ogg",
	".txt":   "text/plain; charset=utf-8",
}

// webContentType is name's content type by its extension.
func webContentType(name string) string {
	if t, ok := webTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}
