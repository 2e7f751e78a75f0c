package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/testkit/testutil"
	"github.com/parley-im/parley/internal/testkit/webclient"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

// exposition is one scrape of /metrics: the families declared (# TYPE)
// and every sample by its series, name{labels} as written.
type exposition struct {
	families map[string]string // name -> type
	samples  map[string]float64
}

func scrape(t *testing.T, s *testserver.Server) exposition {
	t.Helper()
	e := exposition{families: map[string]string{}, samples: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(get(t, "http://"+s.HTTP()+"/metrics")))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			e.families[name] = typ
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		e.samples[line[:i]] = v
	}
	return e
}

// has reports whether the metric name is exposed: a family, or a
// histogram's or summary's _bucket, _sum or _count series.
func (e exposition) has(name string) bool {
	if _, ok := e.families[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if typ := e.families[base]; typ == "histogram" || typ == "summary" {
				return true
			}
		}
	}
	return false
}

// dashboardMetrics are the metric names the sample Grafana dashboard
// queries: in its panels' expressions and its variables' queries.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../docs/grafana/parley-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
		exprs = append(exprs, v.Definition)
	}
	if !vars["datasource"] || !vars["instance"] {
		t.Errorf("dashboard variables %v, want datasource and instance", vars)
	}
	seen := map[string]bool{}
	var names []string
	name := regexp.MustCompile(`\b(parley|go|process)_[a-z0-9_]+`)
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("dashboard queries only %v", names)
	}
	return names
}

// TestMetrics does a little of everything the dashboard shows — logins
// over each transport, a failed login, messages (to a connected and to an
// offline user), an IQ to a module, a stream error — then checks that
// /metrics exposes every metric the dashboard queries, and that the
// values moved.
func TestMetrics(t *testing.T) {
	s := testserver.Start(t, testserver.PlainTCP)
	for _, u := range []string{"alice", "bob", "carol", "dave", "eve"} {
		s.AddUser(u+"@localhost", "secret")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(cfg xmppclient.Config) *xmppclient.Client {
		t.Helper()
		cfg.Domain, cfg.Password = "localhost", "secret"
		c, err := xmppclient.Dial(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Username, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	alice := dial(xmppclient.Config{Addr: s.C2S(), Username: "alice", Resource: "tcp"})
	bob := dial(xmppclient.Config{Addr: s.DirectTLS(), Username: "bob", Resource: "tls", DirectTLS: true, TLS: &tls.Config{InsecureSkipVerify: true}})
	if _, err := dialWS(t, s, "carol", nil, xmppclient.StageBind); err != nil {
		t.Fatalf("carol over WebSocket: %v", err)
	}
	dial(xmppclient.Config{Addr: s.HTTP(), Username: "dave", Resource: "bosh",
		Dialer: &webclient.BOSH{URL: "http://" + s.HTTP() + "/http-bind", Domain: "localhost"}})

	_, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: s.C2S(), Domain: "localhost", Username: "alice", Password: "wrong"})
	var failure *xmppclient.SASLFailure
	if !errors.As(err, &failure) {
		t.Fatalf("wrong password: %v, want a SASL failure", err)
	}

	const messages = 5
	for i := range messages {
		if err := alice.Send(stanza.New("message", stanza.NSClient, "to", "bob@localhost/tls", "type", "chat", "id", fmt.Sprint("m", i)).
			Append(stanza.New("body", stanza.NSClient).SetText("hello"))); err != nil {
			t.Fatal(err)
		}
	}
	for range messages {
		if _, err := bob.Expect(ctx, func(el *stanza.Element) bool { return el.Name == "message" }); err != nil {
			t.Fatalf("bob: %v", err)
		}
	}
	if err := alice.Send(stanza.New("message", stanza.NSClient, "to", "eve@localhost", "type", "chat").
		Append(stanza.New("body", stanza.NSClient).SetText("for later"))); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Request(ctx, stanza.New("iq", stanza.NSClient, "type", "get", "to", "localhost").
		Append(stanza.New("ping", "urn:xmpp:ping"))); err != nil {
		t.Fatalf("ping: %v", err)
	}

	// An element no client may send ends its stream.
	rude := dial(xmppclient.Config{Addr: s.C2S(), Username: "eve", Resource: "rude"})
	if err := rude.Send(stanza.New("nonsense", "urn:example:nonsense")); err != nil {
		t.Fatal(err)
	}
	if _, err := rude.Next(); err == nil {
		t.Fatal("the stream survived an unsupported element")
	}

	want := []struct {
		series string
		min    float64
	}{
		{`parley_c2s_connections{transport="tcp"}`, 1},
		{`parley_c2s_connections{transport="tls"}`, 1},
		{`parley_c2s_connections{transport="websocket"}`, 1},
		{`parley_c2s_connections{transport="bosh"}`, 1},
		{`parley_c2s_connections_accepted_total{transport="tcp"}`, 3},
		{`parley_c2s_connections_accepted_total{transport="tls"}`, 1},
		{`parley_c2s_connections_accepted_total{transport="websocket"}`, 1},
		{`parley_c2s_connections_accepted_total{transport="bosh"}`, 1},
		{`parley_c2s_logins_total{mechanism="SCRAM-SHA-256"}`, 5},
		{`parley_c2s_auth_failures_total{reason="not-authorized"}`, 1},
		{`parley_c2s_stanzas_received_total{kind="message"}`, messages + 1},
		{`parley_c2s_stanzas_sent_total{kind="message"}`, messages},
		{`parley_c2s_stream_errors_total{condition="unsupported-stanza-type"}`, 1},
		{`parley_route_duration_seconds_count{kind="message"}`, messages + 1},
		{`parley_route_duration_seconds_count{kind="iq"}`, 1},
		{`parley_module_calls_total{module="ping",result="ok"}`, 1},
		{`parley_module_call_duration_seconds_count{module="ping"}`, 1},
		{`parley_storage_commit_duration_seconds_count{writer="archive"}`, 1},
		{`parley_storage_commit_duration_seconds_count{writer="offline"}`, 1},
		{`parley_storage_batch_size_count{writer="archive"}`, 1},
		{`parley_storage_batch_size_bucket{writer="offline",le="256"}`, 1},
		{`parley_cluster_forwarded_total{direction="out"}`, 0},
	}
	var e exposition
	testutil.EventuallyErr(t, 10*time.Second, func() error {
		e = scrape(t, s)
		for _, w := range want {
			if v, ok := e.samples[w.series]; !ok || v < w.min {
				return fmt.Errorf("%s = %v (exposed: %v), want at least %v", w.series, v, ok, w.min)
			}
		}
		return nil
	})
	for _, name := range dashboardMetrics(t) {
		if !e.has(name) {
			t.Errorf("the dashboard queries %s, which /metrics lacks", name)
		}
	}
	for name := range e.families {
		if strings.HasPrefix(name, "parley_") && !regexp.MustCompile(`^parley_[a-z0-9_]+$`).MatchString(name) {
			t.Errorf("metric %s: names are parley_ and lower snake case", name)
		}
	}
}
