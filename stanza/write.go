package stanza

import "unicode/utf8"

// AppendXML appends e's XML to buf. parentSpace is the default namespace
// in scope where e is written: an xmlns attribute is written when e.Space
// differs from it. Elements in NSStream are written with the "stream:"
// prefix the stream header declares, and no xmlns. Other elements never
// get a prefix; attribute names are written as they are, so prefixed
// attributes need their xmlns:prefix declaration among the attributes of
// e, of an ancestor, or of the stream header.
//
// Strings that are not valid XML character data (bad UTF-8, control
// characters) are written as U+FFFD, so the output is always well formed.
func (e *Element) AppendXML(buf []byte, parentSpace string) []byte {
	return e.appendXML(buf, parentSpace, false)
}

// String returns e's XML as it would stand alone, so that a stanza shows
// its namespace (xmlns='jabber:client'). It is meant for logs and tests:
// elements in NSStream keep their undeclared "stream:" prefix.
func (e *Element) String() string {
	return string(e.AppendXML(nil, ""))
}

// appendXML writes e; rebound is set when an ancestor bound the "stream"
// prefix to another namespace, so that it cannot be used for NSStream.
func (e *Element) appendXML(buf []byte, parent string, rebound bool) []byte {
	for _, a := range e.Attrs {
		if a.Name == "xmlns:stream" {
			rebound = a.Value != NSStream
		}
	}
	prefixed := e.Space == NSStream && !rebound
	buf = append(buf, '<')
	if prefixed {
		buf = append(buf, "stream:"...)
	}
	buf = append(buf, e.Name...)
	inner := parent // the default namespace inside e
	if !prefixed {
		inner = e.Space
		if e.Space != parent {
			buf = appendAttr(buf, "xmlns", e.Space)
		}
	}
	for _, a := range e.Attrs {
		if a.Name != "xmlns" {
			buf = appendAttr(buf, a.Name, a.Value)
		}
	}
	if len(e.Nodes) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, n := range e.Nodes {
		if n.Elem != nil {
			buf = n.Elem.appendXML(buf, inner, rebound)
		} else {
			buf = appendEscaped(buf, n.Text, &textEscapes)
		}
	}
	buf = append(buf, "</"...)
	if prefixed {
		buf = append(buf, "stream:"...)
	}
	buf = append(buf, e.Name...)
	return append(buf, '>')
}

// StreamHeader appends an XML declaration and a stream header whose
// content namespace is space (jabber:client, jabber:server; none when
// empty), followed by attrs. Attributes named xmlns or xmlns:stream are
// skipped, so the attributes of a received header can be passed back.
func StreamHeader(buf []byte, space string, attrs ...Attr) []byte {
	buf = append(buf, "<?xml version='1.0'?><stream:stream"...)
	if space != "" {
		buf = appendAttr(buf, "xmlns", space)
	}
	buf = appendAttr(buf, "xmlns:stream", NSStream)
	for _, a := range attrs {
		if a.Name != "xmlns" && a.Name != "xmlns:stream" {
			buf = appendAttr(buf, a.Name, a.Value)
		}
	}
	return append(buf, '>')
}

// StreamEnd closes a stream opened with StreamHeader.
const StreamEnd = "</stream:stream>"

func appendAttr(buf []byte, name, value string) []byte {
	buf = append(buf, ' ')
	buf = append(buf, name...)
	buf = append(buf, "='"...)
	buf = appendEscaped(buf, value, &attrEscapes)
	return append(buf, '\'')
}

// Escapes by ASCII byte; "" means the byte is written as is. Line breaks
// and tabs in attributes, and carriage returns anywhere, are written as
// character references because a parser would otherwise normalize them.
var textEscapes, attrEscapes = func() (text, attr [utf8.RuneSelf]string) {
	for c := range 0x20 {
		text[c] = "\uFFFD"
		attr[c] = "\uFFFD"
	}
	text['\t'], text['\n'], text['\r'] = "", "", "&#xD;"
	attr['\t'], attr['\n'], attr['\r'] = "&#x9;", "&#xA;", "&#xD;"
	text['&'], text['<'], text['>'] = "&amp;", "&lt;", "&gt;"
	attr['&'], attr['<'], attr['\''] = "&amp;", "&lt;", "&apos;"
	return
}()

// appendEscaped appends s, escaped with the table esc.
func appendEscaped(buf []byte, s string, esc *[utf8.RuneSelf]string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if esc[c] == "" {
				i++
				continue
			}
			buf = append(buf, s[last:i]...)
			buf = append(buf, esc[c]...)
			i++
			last = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			buf = append(buf, s[last:i]...)
			buf = append(buf, "\uFFFD"...)
			last = i + n
		}
		i += n
	}
	return append(buf, s[last:]...)
}

// AppendAttrEscaped appends s escaped as this package writes attribute
// values (between single quotes), for code that looks for a serialized
// attribute in bytes it knows this package wrote.
func AppendAttrEscaped(buf []byte, s string) []byte { return appendEscaped(buf, s, &attrEscapes) }
