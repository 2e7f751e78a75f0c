package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decodeYAML overlays the YAML document in data onto c. Unknown keys are
// reported with their full dotted path and line, which yaml.v3's own
// KnownFields check (kept as a backstop) does not give.
func decodeYAML(data []byte, file string, c *Config) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("config: %s: %w", file, err)
	}
	w := keyWalker{file: file, lines: map[int]string{}}
	w.walk(&root, reflect.TypeFor[Config](), "")
	if len(w.errs) > 0 {
		return errors.Join(w.errs...)
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if err == io.EOF { // empty file: nothing to overlay
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return w.typeErrors(te)
	}
	if err != nil {
		return fmt.Errorf("config: %s: %w", file, err)
	}
	return nil
}

// keyWalker checks a YAML node tree against the Config struct's yaml tags.
type keyWalker struct {
	file  string
	lines map[int]string // line -> dotted key, to name keys in type errors
	errs  []error
}

func (w *keyWalker) walk(n *yaml.Node, t reflect.Type, path string) {
	switch {
	case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
		w.walk(n.Content[0], t, path)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := k.Value
			if path != "" {
				key = path + "." + k.Value
			}
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				w.errs = append(w.errs, &Error{Pos: w.pos(k.Line), Key: key, Msg: "unknown key", kind: ErrUnknownKey})
				continue
			}
			w.lines[k.Line] = key
			w.lines[val.Line] = key
			w.walk(val, f.Type, key)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			key := fmt.Sprintf("%s[%d]", path, i)
			w.lines[item.Line] = key
			w.walk(item, t.Elem(), key)
		}
	}
}

func (w *keyWalker) pos(line int) string { return w.file + ":" + strconv.Itoa(line) }

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var typeErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeErrors turns yaml.v3's "line N: cannot unmarshal ..." messages into
// *Errors naming the key on that line.
func (w *keyWalker) typeErrors(te *yaml.TypeError) error {
	var errs []error
	for _, msg := range te.Errors {
		e := &Error{Pos: w.file, Msg: msg, kind: ErrInvalid}
		if m := typeErrLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			e.Pos, e.Msg = w.pos(line), m[2]
			if key, ok := w.lines[line]; ok {
				e.Key = key
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}
