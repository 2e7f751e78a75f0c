package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// envPrefix starts every environment variable Parley reads.
const envPrefix = "PARLEY_"

// applyEnv overlays PARLEY_* variables from environ (nil: the process
// environment) onto c.
func applyEnv(c *Config, environ map[string]string) error {
	if environ == nil {
		environ = env.ToMap(os.Environ())
	}
	// env calls OnSet with a field's variable just before parsing its value,
	// so the parsers below can name the variable when the value is bad.
	var current string
	err := env.ParseWithOptions(c, env.Options{
		Prefix:      envPrefix,
		Environment: environ,
		OnSet:       func(key string, _ any, _ bool) { current = key },
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeFor[int]():           keyed(&current, "an integer", strconv.Atoi),
			reflect.TypeFor[bool]():          keyed(&current, "true or false", strconv.ParseBool),
			reflect.TypeFor[float64]():       keyed(&current, "a number", parseFloat),
			reflect.TypeFor[time.Duration](): keyed(&current, `a duration such as "30s"`, time.ParseDuration),
			reflect.TypeFor[Component]():     keyed(&current, "domain=secret pairs, comma separated", parseComponent),
		},
	})
	if err != nil {
		return envErrors(err)
	}
	// env skips variables set to "", but "" is how a listener is disabled.
	clearEmpty(reflect.ValueOf(c).Elem(), envPrefix, environ)
	return nil
}

// keyed wraps parse so that its error is an *Error naming the variable.
func keyed[T any](key *string, want string, parse func(string) (T, error)) env.ParserFunc {
	return func(s string) (any, error) {
		v, err := parse(s)
		if err != nil {
			return nil, invalid(*key, fmt.Sprintf("want %s, got %q", want, s))
		}
		return v, nil
	}
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// envErrors unwraps env's aggregate into our *Errors where it can.
func envErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			e = pe.Err
		}
		var ce *Error
		if !errors.As(e, &ce) {
			e = fmt.Errorf("config: %w", e)
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// clearEmpty zeroes each field whose variable is present but empty.
func clearEmpty(v reflect.Value, prefix string, environ map[string]string) {
	forEachEnv(v.Type(), prefix, nil, func(key string, index []int) {
		if val, ok := environ[key]; ok && val == "" {
			v.FieldByIndex(index).SetZero()
		}
	})
}

// forEachEnv calls fn with the variable name and field index of every leaf
// field of struct type t, following env's tag rules.
func forEachEnv(t reflect.Type, prefix string, index []int, fn func(key string, index []int)) {
	for i := range t.NumField() {
		f := t.Field(i)
		idx := append(index[:len(index):len(index)], i)
		if p, ok := f.Tag.Lookup("envPrefix"); ok {
			forEachEnv(f.Type, prefix+p, idx, fn)
			continue
		}
		if key, _, _ := strings.Cut(f.Tag.Get("env"), ","); key != "" {
			fn(prefix+key, idx)
		}
	}
}

// EnvVars returns the name of every environment variable Load reads, in
// struct order.
func EnvVars() []string {
	var names []string
	forEachEnv(reflect.TypeFor[Config](), envPrefix, nil, func(key string, _ []int) {
		names = append(names, key)
	})
	return names
}
