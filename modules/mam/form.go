package mam

import (
	"time"

	"github.com/parley-im/parley/jid"
	"github.com/parley-im/parley/stanza"
	"github.com/parley-im/parley/storage"
)

// queryForm is the form of supported query fields (XEP-0313 §4.1.5).
func queryForm() *stanza.Element {
	field := func(typ, name string) *stanza.Element {
		return stanza.New("field", NSData, "type", typ, "var", name)
	}
	// The ids are the client's to give: the list is open (XEP-0122).
	ids := field("list-multi", "ids").Append(
		stanza.New("validate", NSValidate, "datatype", "xs:string").Append(stanza.New("open", NSValidate)))
	return stanza.New("x", NSData, "type", "form").Append(
		field("hidden", "FORM_TYPE").Append(stanza.New("value", NSData).SetText(NS)),
		field("jid-single", "with"),
		field("text-single", "start"),
		field("text-single", "end"),
		field("text-single", "before-id"),
		field("text-single", "after-id"),
		ids,
	)
}

// formValues reads a submitted data form (XEP-0004) into its fields'
// values. A field without values, or with only an empty one, is left out:
// clients send empty fields for filters they do not use.
func formValues(x *stanza.Element) (map[string][]string, error) {
	if t := x.Attr("type"); t != "submit" && t != "" {
		return nil, stanza.Errorf(stanza.BadRequest, "the query form must be of type 'submit', not %q", t)
	}
	out := make(map[string][]string)
	seen := make(map[string]bool)
	for _, f := range x.Elements() {
		if !f.Is("field", NSData) {
			continue // <title/>, <instructions/>
		}
		name := f.Attr("var")
		if name == "" {
			return nil, stanza.Errorf(stanza.BadRequest, "a submitted form field needs a 'var'")
		}
		if seen[name] {
			return nil, stanza.Errorf(stanza.BadRequest, "field %q appears twice", name)
		}
		seen[name] = true
		var vals []string
		for _, v := range f.Elements() {
			if v.Is("value", NSData) {
				vals = append(vals, v.Text())
			}
		}
		if len(vals) == 0 || len(vals) == 1 && vals[0] == "" {
			continue
		}
		out[name] = vals
	}
	return out, nil
}

// applyForm sets the filters of aq from the query form. An unknown field
// is feature-not-implemented (§4.1.5); a bad value is bad-request naming
// its field.
func (m *MAM) applyForm(x *stanza.Element, aq *storage.ArchiveQuery) error {
	vals, err := formValues(x)
	if err != nil {
		return err
	}
	if ft, ok := vals["FORM_TYPE"]; ok && (len(ft) != 1 || ft[0] != NS) {
		return stanza.Errorf(stanza.BadRequest, "FORM_TYPE must be %s", NS)
	}
	for name, v := range vals {
		switch name {
		case "FORM_TYPE":
		case "with":
			if len(v) != 1 {
				return stanza.Errorf(stanza.BadRequest, "field 'with' takes one JID")
			}
			j, err := jid.Parse(v[0])
			if err != nil {
				return stanza.Errorf(stanza.BadRequest, "field 'with': %q is not a valid JID", v[0])
			}
			aq.With = j.String()
		case "start", "end":
			if len(v) != 1 {
				return stanza.Errorf(stanza.BadRequest, "field '%s' takes one timestamp", name)
			}
			t, err := parseTime(v[0])
			if err != nil {
				return stanza.Errorf(stanza.BadRequest, "field '%s': %q is not an XEP-0082 DateTime", name, v[0])
			}
			if name == "start" {
				aq.Start = t
			} else {
				aq.End = t
			}
		case "before-id", "after-id":
			if len(v) != 1 {
				return stanza.Errorf(stanza.BadRequest, "field '%s' takes one id", name)
			}
			if name == "before-id" {
				aq.BeforeID = v[0]
			} else {
				aq.AfterID = v[0]
			}
		case "ids":
			if len(v) > m.maxPage {
				return stanza.Errorf(stanza.NotAcceptable, "field 'ids' takes at most %d ids", m.maxPage)
			}
			aq.IDs = v
		default:
			return stanza.Errorf(stanza.FeatureNotImplemented, "field %q is not supported", name)
		}
	}
	return nil
}

// parseTime reads an XEP-0082 DateTime, which is RFC 3339 with optional
// fractions of a second.
func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}
