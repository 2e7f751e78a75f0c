// Package config is Parley's configuration: one YAML file, environment
// overrides for every value, defaults, and validation that names the key at
// fault.
//
// Precedence, lowest first: Default(), the YAML file, then PARLEY_*
// environment variables. The variable for a key is its dotted YAML path in
// upper case with dots as underscores, prefixed with PARLEY_: limits.auth_timeout
// is PARLEY_LIMITS_AUTH_TIMEOUT. Lists are comma separated
// (PARLEY_HOSTS=a.example,b.example); a variable set to the empty string sets
// the value to empty (PARLEY_LISTENERS_HTTP_ADDRESS= disables that listener).
//
// The package only reads and checks settings; it opens no sockets and creates
// no files. Turning a Config into a running server is package server's job.
package config
