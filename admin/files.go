package admin

import (
	"errors"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The dashboard's files come from the web directory at every request, so
// running npm ci after the server started is enough. What is missing is
// said on the page, with the command that makes it.

// uplotDir is uPlot's built files, under the web directory.
var uplotDir = filepath.Join("node_modules", "uplot", "dist")

// pagePolicy keeps the page to its own files: no inline script, nothing
// from elsewhere, not framed.
const pagePolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// page serves /admin/ and the files beside index.html.
func (d *Dashboard) page(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/admin/")
	if name == "" {
		name = "index.html"
	}
	dir := filepath.Join(d.cfg.WebDir, "admin")
	if name == "index.html" {
		if missing := d.missing(); missing != "" {
			d.notBuilt(w, missing)
			return
		}
	}
	d.serveFile(w, r, dir, name)
}

// uplot serves uPlot's built files at /web/uplot/.
func (d *Dashboard) uplot(w http.ResponseWriter, r *http.Request) {
	d.serveFile(w, r, filepath.Join(d.cfg.WebDir, uplotDir), strings.TrimPrefix(r.URL.Path, "/web/uplot/"))
}

// serveFile serves one regular file of dir: no directory listings, no
// way out of dir.
func (d *Dashboard) serveFile(w http.ResponseWriter, r *http.Request, dir, name string) {
	if !fs.ValidPath(name) || strings.Contains(name, "\\") {
		http.NotFound(w, r)
		return
	}
	f, err := os.DirFS(dir).Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	http.ServeContent(w, r, path.Base(name), st.ModTime(), rs)
}

// missing says what of the dashboard is not in the web directory, or "".
func (d *Dashboard) missing() string {
	for _, p := range []struct{ file, what string }{
		{filepath.Join("admin", "index.html"), "the dashboard's page"},
		{filepath.Join(uplotDir, "uPlot.iife.min.js"), "uPlot, the charting library"},
	} {
		if _, err := os.Stat(filepath.Join(d.cfg.WebDir, p.file)); errors.Is(err, fs.ErrNotExist) || err != nil {
			return p.what + " (" + filepath.Join(d.cfg.WebDir, p.file) + ")"
		}
	}
	return ""
}

var notBuiltPage = template.Must(template.New("").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley admin: not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The admin dashboard is not built</h1>
<p>Missing: {{.Missing}}.</p>
<p>The dashboard's files live in the web directory (<code>listeners.http.web_dir</code>, now <code>{{.Dir}}</code>).
In a checkout of Parley's repository, install its charting library with:</p>
<pre>npm ci --prefix web</pre>
<p>and point <code>listeners.http.web_dir</code> at that <code>web</code> directory. No restart is needed.</p>
</body></html>
`))

// notBuilt answers /admin/ when the web directory lacks the dashboard.
func (d *Dashboard) notBuilt(w http.ResponseWriter, missing string) {
	dir, err := filepath.Abs(d.cfg.WebDir)
	if err != nil {
		dir = d.cfg.WebDir
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = notBuiltPage.Execute(w, struct{ Missing, Dir string }{missing, dir})
}
