package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/config"
	"github.com/parley-im/parley/internal/testkit/testserver"
	"github.com/parley-im/parley/internal/xmppclient"
	"github.com/parley-im/parley/stanza"
)

const (
	token    = "test-token-0123456789abcdef0123456789"
	token2   = "second-token-0123456789abcdef012345"
	domain   = "localhost"
	password = "secret"
	wait     = 10 * time.Second
)

// env is a running server with the API on, and an HTTP client for it.
type env struct {
	t      *testing.T
	srv    *testserver.Server
	base   string // http://host:port
	client *http.Client
}

// withAPI turns the API on with two tokens.
func withAPI(c *config.Config) {
	c.API.Enabled = true
	c.API.Tokens = []string{token, token2}
}

// start runs a server (plain TCP logins, the API on unless an option
// turns it off again) and returns its environment.
func start(t *testing.T, opts ...testserver.Option) *env {
	t.Helper()
	srv := testserver.Start(t, append([]testserver.Option{testserver.PlainTCP, withAPI}, opts...)...)
	// No keep-alive: no idle connection outlives the test (goleak).
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: wait}
	return &env{t: t, srv: srv, base: "http://" + srv.HTTP(), client: client}
}

// response is an answer read in full.
type response struct {
	t      *testing.T
	what   string // "METHOD path", for messages
	status int
	header http.Header
	body   []byte
}

// apiError is the body of every error answer.
type apiError struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// request sends a request with the first token; body is JSON-encoded
// unless it is a string or nil. hdr are name, value pairs; a
// "Content-Type" or "Authorization" in them replaces the default ("" drops
// it).
func (e *env) request(method, path string, body any, hdr ...string) *response {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return &response{t: e.t, what: method + " " + path, status: resp.StatusCode, header: resp.Header, body: b}
}

// ok checks the status and decodes the JSON body into v (unless nil).
func (r *response) ok(status int, v any) {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("%s: status %d, want %d; body %s", r.what, r.status, status, r.body)
	}
	if v == nil {
		if status == http.StatusNoContent && len(r.body) != 0 {
			r.t.Fatalf("%s: 204 with a body %q", r.what, r.body)
		}
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		r.t.Fatalf("%s: Content-Type %q, want application/json", r.what, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("%s: body %s: %v", r.what, r.body, err)
	}
}

// fails checks that the answer is the JSON error with the status and code,
// and that its message contains each of msg.
func (r *response) fails(status int, code string, msg ...string) apiError {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("%s: status %d, want %d; body %s", r.what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		r.t.Fatalf("%s: Content-Type %q, want application/json; body %s", r.what, ct, r.body)
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		r.t.Fatalf("%s: error body %s: %v", r.what, r.body, err)
	}
	if e.Error.Status != status || e.Error.Code != code {
		r.t.Fatalf("%s: error %+v, want status %d code %q", r.what, e.Error, status, code)
	}
	for _, m := range msg {
		if !strings.Contains(e.Error.Message, m) {
			r.t.Fatalf("%s: message %q lacks %q", r.what, e.Error.Message, m)
		}
	}
	return e
}

// addUser creates an account in storage directly.
func (e *env) addUser(local string) string {
	e.t.Helper()
	j := local + "@" + domain
	e.srv.AddUser(j, password)
	return j
}

// client is one logged-in resource.
type client struct {
	t *testing.T
	c *xmppclient.Client
}

// login logs local/resource in with pw (password when empty).
func (e *env) login(local, resource, pw string) *client {
	e.t.Helper()
	c, err := e.dial(local, resource, pw)
	if err != nil {
		e.t.Fatalf("login %s/%s: %v", local, resource, err)
	}
	return c
}

func (e *env) dial(local, resource, pw string) (*client, error) {
	if pw == "" {
		pw = password
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr: e.srv.C2S(), Domain: domain, Username: local, Password: pw, Resource: resource,
	})
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return &client{t: e.t, c: c}, nil
}

// send parses XML and sends it.
func (c *client) send(xml string) {
	c.t.Helper()
	el, err := stanza.ParseBytes([]byte(xml))
	if err != nil {
		c.t.Fatalf("bad test XML %q: %v", xml, err)
	}
	if err := c.c.Send(el); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// expect waits for an element match accepts.
func (c *client) expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	el, err := c.c.Expect(ctx, match)
	if err != nil {
		c.t.Fatalf("%s: waiting for %s: %v", c.c.JID(), what, err)
	}
	return el
}

// available sends presence and waits for its echo.
func (c *client) available(inner string) {
	c.t.Helper()
	c.send("<presence>" + inner + "</presence>")
	self := c.c.JID().String()
	c.expect("own presence", func(el *stanza.Element) bool { return el.Name == "presence" && el.From() == self && el.Type() == "" })
}

// none checks that no element match accepts arrives within a short
// while.
func (c *client) none(what string, match func(*stanza.Element) bool) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	el, err := c.c.Expect(ctx, match)
	switch {
	case err == nil:
		c.t.Fatalf("%s: got %s, want no %s", c.c.JID(), el, what)
	case !errors.Is(err, context.DeadlineExceeded):
		c.t.Fatalf("%s: while checking for no %s: %v", c.c.JID(), what, err)
	}
}

// streamError reads until the stream ends and returns its stream error.
func (c *client) streamError() *stanza.StreamError {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.c.Expect(ctx, func(*stanza.Element) bool { return false })
	var se *stanza.StreamError
	if !errors.As(err, &se) {
		c.t.Fatalf("%s: want a stream error, the stream ended with %v", c.c.JID(), err)
	}
	return se
}

// message matches a message with the id.
func message(id string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Name == "message" && el.ID() == id }
}
