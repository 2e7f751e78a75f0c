package config

import (
	"fmt"
	"strings"
	"unicode"
)

// API configures the admin REST API under /api/v1 on the HTTP listener
// (package api). It is off until an operator turns it on and gives it
// tokens.
type API struct {
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// Tokens are the bearer tokens an administrator presents
	// (Authorization: Bearer <token>); any one of them grants everything.
	// In the environment: PARLEY_API_TOKENS=token1,token2.
	Tokens []string `yaml:"tokens" env:"TOKENS"`
}

// MinAPITokenLength is the shortest bearer token accepted: 32 characters,
// e.g. the output of openssl rand -hex 24 (48).
const MinAPITokenLength = 32

// api checks the admin API: each token long enough and fit for an HTTP
// header; enabled only with a token and an HTTP listener.
func (v *validator) api(a API, httpAddr string) {
	for i, t := range a.Tokens {
		key := fmt.Sprintf("api.tokens[%d]", i)
		switch {
		case len(t) < MinAPITokenLength:
			v.add(key, "must be at least %d characters (e.g. the output of: openssl rand -hex 24), got %d", MinAPITokenLength, len(t))
		case strings.ContainsFunc(t, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsGraphic(r) || r == ' ' }):
			v.add(key, "must be printable ASCII without spaces (it travels in an Authorization header)")
		}
	}
	if !a.Enabled {
		return
	}
	if len(a.Tokens) == 0 {
		v.add("api.tokens", "at least one token is required when api.enabled is true")
	}
	if httpAddr == "" {
		v.add("api.enabled", "the admin API is served on the HTTP listener: set listeners.http.address")
	}
}

// redactTokens returns a copy of list with every token hidden.
func redactTokens(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i := range list {
		out[i] = redacted
	}
	return out
}
