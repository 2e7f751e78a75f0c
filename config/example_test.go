package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestExampleLoadsAsDefaults(t *testing.T) {
	c, err := load("parley.example.yaml", map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("example differs from Default():\n%s", c.Redacted())
	}
	file, err := os.ReadFile("parley.example.yaml")
	if err != nil || string(file) != Example() {
		t.Errorf("Example() is not parley.example.yaml (%v)", err)
	}
}

// TestExampleHasEveryKey keeps the example, the yaml tags and the env tags
// in step: every field appears in the example, and its variable follows the
// PARLEY_<PATH> rule the package doc promises.
func TestExampleHasEveryKey(t *testing.T) {
	var keys []string
	yamlKeys(reflect.TypeFor[Config](), "", &keys)

	var doc map[string]any
	if err := yaml.Unmarshal([]byte(Example()), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var v any = doc
		for _, p := range strings.Split(k, ".") {
			m, _ := v.(map[string]any)
			var ok bool
			if v, ok = m[p]; !ok {
				t.Errorf("example lacks %s", k)
				break
			}
		}
	}

	var want []string
	for _, k := range keys {
		want = append(want, "PARLEY_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_")))
	}
	if got := EnvVars(); !slices.Equal(got, want) {
		t.Errorf("EnvVars() = %q\nwant       %q", got, want)
	}
}

func yamlKeys(t reflect.Type, prefix string, out *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
		if f.Type.Kind() == reflect.Struct {
			yamlKeys(f.Type, name+".", out)
			continue
		}
		*out = append(*out, name)
	}
}

func TestRedactedRoundTrips(t *testing.T) {
	c := Default()
	c.Hosts = []string{"a.example", "[::1]"}
	c.Listeners.HTTP.Address = ""
	c.Limits.LoginRatePerIP = 1.5
	got, err := load(writeFile(t, c.Redacted()), map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip changed the config:\n%s", got.Redacted())
	}
}
