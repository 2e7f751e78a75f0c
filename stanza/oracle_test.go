package stanza

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
)

// The oracle for FuzzParser is encoding/xml. It accepts more than XMPP
// does, so besides the tree it reports, for each piece of the stream,
// whether it stays within the subset this package implements. Only for
// those pieces must the parser agree with it.

// oracle is what encoding/xml made of a stream.
type oracle struct {
	header      *Element
	headerClean bool
	items       []*Element
	clean       []bool // item i, and what came between it and item i-1, are in the subset
	closed      bool   // the stream element was closed
	tailClean   bool   // what came between the last item and the close is in the subset
	err         error
	// nameErr is set when encoding/xml rejected a non-ASCII name: it uses
	// the fourth edition's name tables, which lack characters that the
	// fifth edition (and this package) allow.
	nameErr bool
}

// preRoot is what may come before the stream header.
var preRoot = regexp.MustCompile(`^\x{FEFF}?` +
	`(<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*("1\.0"|'1\.0')` +
	`([ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*("[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?` +
	`([ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*("(yes|no)"|'(yes|no)'))?[ \t\r\n]*\?>)?` +
	`[ \t\r\n]*$`)

var charRefs = regexp.MustCompile(`&#(x[0-9a-fA-F]+|[0-9]+);`)

func runOracle(data []byte, lim Limits) *oracle {
	lim = lim.withDefaults()
	o := &oracle{}
	// Token resolves namespaces and checks end tags; RawToken, on a
	// second decoder in step with the first, gives the prefixes as
	// written.
	dt := xml.NewDecoder(bytes.NewReader(data))
	dr := xml.NewDecoder(bytes.NewReader(data))
	var (
		stack     []*Element
		scopes    []map[string]string
		clean     = true // since the previous item
		itemClean bool
		itemStart int64
	)
	for {
		start := dt.InputOffset()
		tok, err := dt.Token()
		raw, rerr := dr.RawToken()
		if err == nil {
			err = rerr
		}
		if err != nil {
			o.err = err
			if se, ok := err.(*xml.SyntaxError); ok && strings.HasPrefix(se.Msg, "invalid XML name") {
				o.nameErr = strings.IndexFunc(se.Msg, func(r rune) bool { return r >= 0x80 }) >= 0
			}
			return o
		}
		end := dt.InputOffset()
		depth := len(scopes) // 0 before the header, 1 between items
		switch t := tok.(type) {
		case xml.StartElement:
			r := raw.(xml.StartElement)
			ok := checkStart(r, &scopes, data[start:end], lim)
			e := oracleElement(t, r, depth == 0)
			switch depth {
			case 0:
				o.header = e
				o.headerClean = ok && preRoot.Match(data[:start]) && end <= int64(lim.MaxStanzaBytes) &&
					e.Space == NSStream && e.Name == "stream" && !badCharRef(data[start:end])
				continue
			case 1:
				itemStart, itemClean, stack = start, clean, nil
			default:
				stack[len(stack)-1].Nodes = append(stack[len(stack)-1].Nodes, Node{Elem: e})
			}
			if !ok || len(stack) >= lim.MaxDepth {
				itemClean = false
			}
			stack = append(stack, e)
		case xml.EndElement:
			scopes = scopes[:len(scopes)-1]
			switch depth {
			case 1:
				o.closed, o.tailClean = true, clean
				return o
			case 2:
				if end-itemStart > int64(lim.MaxStanzaBytes) || badCharRef(data[itemStart:end]) {
					itemClean = false
				}
				o.items = append(o.items, stack[0])
				o.clean = append(o.clean, itemClean)
				clean = true
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			switch depth {
			case 0:
			case 1:
				// Only literal white space may separate items.
				if len(bytes.Trim(data[start:end], " \t\r\n")) > 0 {
					clean = false
				}
			default:
				if len(t) > 0 {
					e := stack[len(stack)-1]
					if n := len(e.Nodes); n > 0 && e.Nodes[n-1].Elem == nil {
						e.Nodes[n-1].Text += string(t)
					} else {
						e.Nodes = append(e.Nodes, Node{Text: string(t)})
					}
				}
			}
		default: // comments, processing instructions, DTDs
			switch depth {
			case 0: // preRoot judges
			case 1:
				clean = false
			default:
				itemClean = false
			}
		}
	}
}

// oracleElement converts a start tag: names from the resolved token,
// attribute names with their prefixes from the raw one.
func oracleElement(t, r xml.StartElement, header bool) *Element {
	e := &Element{Name: t.Name.Local, Space: t.Name.Space}
	for _, a := range r.Attr {
		if a.Name.Space == "" && a.Name.Local == "xmlns" && !header {
			continue
		}
		e.Attrs = append(e.Attrs, Attr{Name: qname(a.Name), Value: a.Value})
	}
	return e
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// checkStart reports whether a start tag, as written, is within the
// subset: Namespaces in XML followed to the letter, and the limits. It
// pushes the tag's prefix declarations onto scopes.
func checkStart(r xml.StartElement, scopes *[]map[string]string, tag []byte, lim Limits) bool {
	ok := len(r.Attr) <= lim.MaxAttrs && attrsSeparated(tag)
	decl := map[string]string{}
	for _, a := range r.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			ok = ok && a.Value != NSXML && a.Value != nsXMLNS
		case a.Name.Space == "xmlns":
			switch p := a.Name.Local; {
			case p == "xml":
				ok = ok && a.Value == NSXML
			case p == "xmlns", a.Value == "", a.Value == NSXML, a.Value == nsXMLNS:
				ok = false
			default:
				decl[p] = a.Value
			}
		}
	}
	*scopes = append(*scopes, decl)
	lookup := func(prefix string) (string, bool) {
		if prefix == "xml" {
			return NSXML, true
		}
		for i := len(*scopes) - 1; i >= 0; i-- {
			if v, ok := (*scopes)[i][prefix]; ok {
				return v, true
			}
		}
		return "", false
	}
	ok = ok && ncNames(r.Name) && r.Name.Space != "xmlns"
	if r.Name.Space != "" {
		_, found := lookup(r.Name.Space)
		ok = ok && found
	}
	seen := map[string]bool{}
	for _, a := range r.Attr {
		ok = ok && ncNames(a.Name) && !seen[qname(a.Name)]
		seen[qname(a.Name)] = true
		if a.Name.Space != "" && a.Name.Space != "xmlns" {
			uri, found := lookup(a.Name.Space)
			ok = ok && found && !seen["{"+uri+"}"+a.Name.Local]
			seen["{"+uri+"}"+a.Name.Local] = true
		}
	}
	return ok
}

// ncNames reports whether both parts of a name are NCNames as far as
// encoding/xml has not checked already: no colon, no digit, '-', '.' or
// combining character first.
func ncNames(n xml.Name) bool {
	for _, s := range []string{n.Space, n.Local} {
		if strings.Contains(s, ":") {
			return false
		}
		if s == "" {
			continue
		}
		r := []rune(s)[0]
		if r < 0x80 && charClass[r]&cNameStart == 0 || r >= 0x80 && !isNameRune(r, true) {
			return false
		}
	}
	return true
}

// attrsSeparated reports whether white space separates the attributes of
// a raw start tag, which encoding/xml does not check.
func attrsSeparated(tag []byte) bool {
	for i := 0; i < len(tag); i++ {
		if q := tag[i]; q == '"' || q == '\'' {
			j := bytes.IndexByte(tag[i+1:], q)
			if j < 0 {
				return false
			}
			i += j + 1 // the closing quote
			if next := i + 1; next < len(tag) && !isSpace(tag[next]) && tag[next] != '/' && tag[next] != '>' {
				return false
			}
		}
	}
	return true
}

// badCharRef reports a character reference to a surrogate, which
// encoding/xml turns into U+FFFD.
func badCharRef(b []byte) bool {
	for _, m := range charRefs.FindAllSubmatch(b, -1) {
		s, base := string(m[1]), 10
		if s[0] == 'x' {
			s, base = s[1:], 16
		}
		if v, err := strconv.ParseUint(s, base, 64); err == nil && v >= 0xD800 && v <= 0xDFFF {
			return true
		}
	}
	return false
}
