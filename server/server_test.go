package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
)

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func TestHealthAndMetrics(t *testing.T) {
	s := testserver.Start(t)
	var h struct {
		Status   string
		Hosts    []string
		Sessions int
	}
	if err := json.Unmarshal([]byte(get(t, "http://"+s.HTTP()+"/healthz")), &h); err != nil {
		t.Fatal(err)
	}
	if h.Status != "ok" || len(h.Hosts) != 1 || h.Hosts[0] != "localhost" || h.Sessions != 0 {
		t.Fatalf("healthz: %+v", h)
	}
	m := get(t, "http://"+s.HTTP()+"/metrics")
	for _, name := range []string{"parley_sessions 0", "parley_c2s_connections", "parley_c2s_logins_total", "parley_storage_commits_total", "go_goroutines"} {
		if !strings.Contains(m, name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}

func TestSelfSignedCertificateReused(t *testing.T) {
	s := testserver.Start(t)
	if !s.CertCreated || !strings.HasSuffix(s.CertPath, "selfsigned.crt") {
		t.Fatalf("first start: created=%v path=%q", s.CertCreated, s.CertPath)
	}
	dir := s.Config.DataDir
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2 := testserver.Start(t, func(c *config.Config) { c.DataDir = dir })
	if s2.CertCreated || s2.CertPath != s.CertPath {
		t.Fatalf("second start made a new certificate: created=%v path=%q", s2.CertCreated, s2.CertPath)
	}
}

// debug.pprof_address serves the profiler on its own listener only.
func TestPprofListener(t *testing.T) {
	s := testserver.Start(t, func(c *config.Config) { c.Debug.PprofAddress = "127.0.0.1:0" })
	if body := get(t, "http://"+s.Addr("pprof").String()+"/debug/pprof/"); !strings.Contains(body, "goroutine") {
		t.Fatalf("the pprof listener answered %q", body)
	}
	resp, err := http.Get("http://" + s.HTTP() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the public HTTP listener answered /debug/pprof/ with %s, want 404", resp.Status)
	}
}
