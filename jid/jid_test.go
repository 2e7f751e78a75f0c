package jid

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestMethods(t *testing.T) {
	j := MustParse("Juliet@Example.com/Balcony")
	if got := j.Bare(); got.String() != "juliet@example.com" || !got.IsBare() || got.Resource() != "" {
		t.Errorf("Bare() = %q", got)
	}
	if j.IsBare() || j.IsZero() {
		t.Errorf("IsBare/IsZero wrong for %q", j)
	}
	if d := j.DomainJID(); d != MustParse("example.com") || d.Local() != "" {
		t.Errorf("DomainJID() = %q", d)
	}
	if !j.Equal(MustParse("juliet@EXAMPLE.com./Balcony")) || j.Equal(MustParse("juliet@example.com/balcony")) {
		t.Error("Equal disagrees with canonical form")
	}
	var zero JID
	if !zero.IsZero() || zero.String() != "" || zero.Domain() != "" || zero.Local() != "" || zero.Resource() != "" {
		t.Error("zero JID is not empty")
	}

	seen := map[JID]bool{MustParse("a@b/c"): true}
	if !seen[MustParse("A@B/c")] {
		t.Error("equal JIDs are different map keys")
	}
}

func TestWithResource(t *testing.T) {
	j := MustParse("juliet@example.com/balcony")
	r, err := j.WithResource("Garden\u00a0Wall")
	if err != nil || r.String() != "juliet@example.com/Garden Wall" {
		t.Errorf("WithResource = %q, %v", r, err)
	}
	if r, err := j.WithResource(""); err != nil || r != j.Bare() {
		t.Errorf("WithResource(\"\") = %q, %v", r, err)
	}
	if _, err := j.WithResource("a\x00"); !errors.Is(err, ErrMalformed) {
		t.Errorf("WithResource(control) err = %v", err)
	}
	if _, err := (JID{}).WithResource("r"); !errors.Is(err, ErrMalformed) {
		t.Errorf("zero.WithResource err = %v", err)
	}
}

func TestNew(t *testing.T) {
	if j, err := New("", "example.com", ""); err != nil || j.String() != "example.com" {
		t.Errorf("New domain only = %q, %v", j, err)
	}
	for _, p := range [][3]string{
		{"a", "", ""},
		{"a@b", "example.com", ""},
		{"a/b", "example.com", ""},
		{"", "a@b", ""},
		{"", "a/b", ""},
	} {
		if j, err := New(p[0], p[1], p[2]); !errors.Is(err, ErrMalformed) {
			t.Errorf("New(%q) = %q, %v; want ErrMalformed", p, j, err)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic")
		}
	}()
	MustParse("@")
}

func TestText(t *testing.T) {
	type msg struct {
		To   JID `json:"to"`
		From JID `json:"from"`
	}
	in := msg{To: MustParse("juliet@example.com/balcony")}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"to":"juliet@example.com/balcony","from":""}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var out msg
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("Unmarshal = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"to":"@x"}`), &out); !errors.Is(err, ErrMalformed) {
		t.Errorf("Unmarshal bad JID err = %v", err)
	}
}
