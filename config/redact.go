package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

const redacted = "xxxxx"

// Redacted returns c as YAML with secrets (the PostgreSQL password) replaced,
// for logs and "parley config" output.
func (c Config) Redacted() string {
	c.Storage.PostgresDSN = redactDSN(c.Storage.PostgresDSN)
	c.Components = redactComponents(c.Components)
	c.API.Tokens = redactTokens(c.API.Tokens)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	return b.String()
}

// String is Redacted, so printing a Config never leaks a secret.
func (c Config) String() string { return c.Redacted() }

// LogValue is Redacted, so structured logging never leaks a secret either.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.Redacted()) }

// dsnPassword matches password=value in libpq key=value syntax, where a value
// is bare or in single quotes with backslash escapes (an unterminated quote
// hides the rest of the string).
var dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)((?:'(?:[^'\\]|\\.)*(?:'|$))+|\S*)`)

// redactDSN hides the password in a PostgreSQL URL or key=value DSN.
func redactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if !strings.Contains(dsn, "://") {
		return dsnPassword.ReplaceAllString(dsn, "${1}"+redacted)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return redacted // unparseable: show nothing of it
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", redacted)
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
