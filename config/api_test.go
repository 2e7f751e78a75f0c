package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	tokenA = "0123456789abcdef0123456789abcdef" // 32 characters
	tokenB = "fedcba9876543210fedcba9876543210-b"
)

func TestAPIValidate(t *testing.T) {
	tests := []struct {
		name    string
		api     API
		noHTTP  bool
		want    string // "" for valid
		wantKey string
	}{
		{"off by default", API{}, false, "", ""},
		{"on with a token", API{Enabled: true, Tokens: []string{tokenA}}, false, "", ""},
		{"two tokens", API{Enabled: true, Tokens: []string{tokenA, tokenB}}, false, "", ""},
		{"on without tokens", API{Enabled: true}, false, "at least one token is required", "api.tokens"},
		{"short token", API{Enabled: true, Tokens: []string{tokenA, "short"}}, false, "must be at least 32 characters", "api.tokens[1]"},
		{"short token while off", API{Tokens: []string{"x"}}, false, "must be at least 32 characters", "api.tokens[0]"},
		{"space in token", API{Enabled: true, Tokens: []string{tokenA + " x"}}, false, "printable ASCII without spaces", "api.tokens[0]"},
		{"control character", API{Enabled: true, Tokens: []string{tokenA + "\n"}}, false, "printable ASCII without spaces", "api.tokens[0]"},
		{"no HTTP listener", API{Enabled: true, Tokens: []string{tokenA}}, true, "set listeners.http.address", "api.enabled"},
		{"no HTTP listener, API off", API{}, true, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.API = tc.api
			if tc.noHTTP {
				c.Listeners.HTTP.Address = ""
			}
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one on %s containing %q", err, tc.wantKey, tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tc.wantKey || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v: want an *Error on key %s wrapping ErrInvalid", err, tc.wantKey)
			}
		})
	}
}

func TestAPIFromFileAndEnv(t *testing.T) {
	path := writeFile(t, `
api:
  enabled: true
  tokens: [`+tokenA+`]
`)
	c, err := load(path, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.API.Enabled || !reflect.DeepEqual(c.API.Tokens, []string{tokenA}) {
		t.Fatalf("loaded %+v", c.API)
	}
	c, err = load(path, map[string]string{"PARLEY_API_TOKENS": tokenA + "," + tokenB, "PARLEY_API_ENABLED": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{tokenA, tokenB}; !c.API.Enabled || !reflect.DeepEqual(c.API.Tokens, want) {
		t.Fatalf("environment gave %+v, want enabled with %q", c.API, want)
	}
	_, err = load("", map[string]string{"PARLEY_API_ENABLED": "true", "PARLEY_API_TOKENS": "too-short"})
	if err == nil || !strings.Contains(err.Error(), "api.tokens[0]: must be at least 32 characters") {
		t.Fatalf("a short token from the environment: %v", err)
	}
}

func TestAPITokensRedacted(t *testing.T) {
	c := Default()
	c.API = API{Enabled: true, Tokens: []string{tokenA, tokenB}}
	out := c.Redacted()
	if strings.Contains(out, tokenA) || strings.Contains(out, tokenB) || !strings.Contains(out, redacted) {
		t.Fatalf("Redacted() shows a token:\n%s", out)
	}
	if c.API.Tokens[0] != tokenA {
		t.Fatal("Redacted changed the caller's configuration")
	}
}
