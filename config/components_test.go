package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestComponentsValidate(t *testing.T) {
	tests := []struct {
		name string
		list []Component
		want string // "" for valid
	}{
		{"one", []Component{{Domain: "push.localhost", Secret: "s"}}, ""},
		{"two", []Component{{Domain: "a.example", Secret: "s"}, {Domain: "b.example", Secret: "t"}}, ""},
		{"empty domain", []Component{{Secret: "s"}}, "components[0].domain: must not be empty"},
		{"bad domain", []Component{{Domain: "x_y", Secret: "s"}}, `components[0].domain: "x_y" is not a valid domain`},
		{"with localpart", []Component{{Domain: "a@push.localhost", Secret: "s"}},
			`components[0].domain: "a@push.localhost" must be a domain, without localpart or resource`},
		{"not canonical", []Component{{Domain: "Push.localhost", Secret: "s"}},
			`components[0].domain: "Push.localhost" is not in canonical form; write "push.localhost"`},
		{"a host", []Component{{Domain: "localhost", Secret: "s"}},
			`components[0].domain: "localhost" is one of the server's hosts`},
		{"twice", []Component{{Domain: "push.localhost", Secret: "s"}, {Domain: "push.localhost", Secret: "t"}},
			`components[1].domain: "push.localhost" is already used by components[0]`},
		{"no secret", []Component{{Domain: "push.localhost"}},
			"components[0].secret: must not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Components = tc.list
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestComponentsFromFileAndEnv(t *testing.T) {
	path := writeFile(t, `
listeners:
  component:
    address: "127.0.0.1:5347"
components:
  - domain: push.localhost
    secret: from-the-file
push:
  include_body: true
`)
	c, err := load(path, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listeners.Component.Address != "127.0.0.1:5347" || !c.Push.IncludeBody ||
		!reflect.DeepEqual(c.Components, []Component{{Domain: "push.localhost", Secret: "from-the-file"}}) {
		t.Fatalf("loaded %+v %+v %+v", c.Listeners.Component, c.Components, c.Push)
	}

	c, err = load(path, map[string]string{
		"PARLEY_COMPONENTS":                  "a.localhost=s1,b.localhost=x=y",
		"PARLEY_LISTENERS_COMPONENT_ADDRESS": "",
		"PARLEY_PUSH_INCLUDE_BODY":           "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Component{{Domain: "a.localhost", Secret: "s1"}, {Domain: "b.localhost", Secret: "x=y"}}
	if !reflect.DeepEqual(c.Components, want) || c.Listeners.Component.Address != "" || c.Push.IncludeBody {
		t.Fatalf("environment gave %+v %q %v, want %+v, no listener, no body", c.Components, c.Listeners.Component.Address, c.Push.IncludeBody, want)
	}

	_, err = load("", map[string]string{"PARLEY_COMPONENTS": "push.localhost"})
	if err == nil || !strings.Contains(err.Error(), "PARLEY_COMPONENTS: want domain=secret pairs") {
		t.Fatalf("a component without a secret in the environment: %v", err)
	}
}

func TestComponentSecretsRedacted(t *testing.T) {
	c := Default()
	c.Components = []Component{{Domain: "push.localhost", Secret: "hunter2-hunter2"}}
	if out := c.Redacted(); strings.Contains(out, "hunter2") || !strings.Contains(out, "push.localhost") {
		t.Fatalf("Redacted():\n%s", out)
	}
	if c.Components[0].Secret != "hunter2-hunter2" {
		t.Fatal("Redacted changed the caller's configuration")
	}
}
