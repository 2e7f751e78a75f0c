package c2s

import (
	"bytes"
	"errors"

	"github.com/parley-im/parley/stanza"
)

// XMPP over WebSocket (RFC 7395) frames a stream differently from TCP:
// every WebSocket message is one whole element, parsable on its own; the
// stream is opened and closed with <open/> and <close/> in the framing
// namespace instead of <stream:stream> and </stream:stream>; and every
// top-level element declares its namespace. The c2s connection speaks the
// TCP framing; these two functions translate between them, one message at
// a time, in either direction (a test client uses them the other way).

// NSFraming is the namespace of RFC 7395's <open/> and <close/>.
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

const nsStreamDecl = " xmlns:stream='" + stanza.NSStream + "'"

// StreamFromWebSocket turns one WebSocket message into TCP stream bytes:
// <open/> becomes a stream header, <close/> the closing tag, anything else
// stays as it is.
func StreamFromWebSocket(msg []byte) []byte {
	t := bytes.TrimSpace(msg)
	if !bytes.HasPrefix(t, []byte("<open")) && !bytes.HasPrefix(t, []byte("<close")) {
		return msg
	}
	el, err := stanza.ParseBytes(t)
	if err != nil || el.Space != NSFraming {
		return msg // the stream parser reports what is wrong with it
	}
	if el.Name == "close" {
		return []byte("</stream:stream>")
	}
	if el.Name != "open" {
		return msg
	}
	b := []byte("<stream:stream xmlns='" + stanza.NSClient + "'" + nsStreamDecl)
	for _, a := range el.Attrs {
		if a.Name == "xmlns" || bytes.HasPrefix([]byte(a.Name), []byte("xmlns:")) {
			continue
		}
		b = append(b, ' ')
		b = append(b, a.Name...)
		b = append(b, "='"...)
		b = stanza.AppendAttrEscaped(b, a.Value)
		b = append(b, '\'')
	}
	return append(b, '>')
}

// errPartial: the bytes end inside an element.
var errPartial = errors.New("c2s: partial element")

// WebSocketFromStream splits TCP stream bytes into WebSocket messages: the
// stream header becomes <open/>, the closing tag <close/>, and each
// top-level element one message with its namespace declared. It returns
// the messages and the bytes of an element not yet complete, for the next
// call.
func WebSocketFromStream(b []byte) (msgs [][]byte, rest []byte) {
	for {
		i := bytes.IndexByte(b, '<')
		if i < 0 {
			return msgs, nil // whitespace between elements
		}
		b = b[i:]
		switch {
		case bytes.HasPrefix(b, []byte("<?")):
			end := bytes.Index(b, []byte("?>"))
			if end < 0 {
				return msgs, b
			}
			b = b[end+2:]
			continue
		case bytes.HasPrefix(b, []byte("</stream:stream")):
			end := bytes.IndexByte(b, '>')
			if end < 0 {
				return msgs, b
			}
			msgs = append(msgs, []byte("<close xmlns='"+NSFraming+"'/>"))
			b = b[end+1:]
			continue
		case bytes.HasPrefix(b, []byte("<stream:stream")):
			n, _, err := startTag(b)
			if err != nil {
				return msgs, b
			}
			msgs = append(msgs, openFromHeader(b[:n]))
			b = b[n:]
			continue
		}
		n, err := elementLen(b)
		if err != nil {
			return msgs, b
		}
		msgs = append(msgs, declared(b[:n]))
		b = b[n:]
	}
}

// openFromHeader turns a stream header's start tag into <open/>.
func openFromHeader(tag []byte) []byte {
	el, err := stanza.ParseBytes(append(bytes.TrimSuffix(append([]byte(nil), tag...), []byte(">")), "/>"...))
	out := []byte("<open xmlns='" + NSFraming + "'")
	if err == nil {
		for _, a := range el.Attrs {
			if a.Name == "xmlns" || bytes.HasPrefix([]byte(a.Name), []byte("xmlns:")) {
				continue
			}
			out = append(out, ' ')
			out = append(out, a.Name...)
			out = append(out, "='"...)
			out = stanza.AppendAttrEscaped(out, a.Value)
			out = append(out, '\'')
		}
	}
	return append(out, "/>"...)
}

// declared adds the namespace declaration a top-level element needs on
// its own: xmlns:stream for stream-level elements, xmlns='jabber:client'
// for an element that inherited it.
func declared(el []byte) []byte {
	name := 1
	for name < len(el) && !isSpace(el[name]) && el[name] != '>' && el[name] != '/' {
		name++
	}
	n, tagEnd, _ := startTag(el)
	var decl string
	switch {
	case bytes.HasPrefix(el, []byte("<stream:")):
		if !hasAttr(el[:tagEnd], "xmlns:stream") {
			decl = nsStreamDecl
		}
		// The serializer leaves jabber:client undeclared on a child of a
		// stream-level element: it is the default outside.
		if !hasAttr(el[:tagEnd], "xmlns") && inheritsDefault(el[n:]) {
			decl += " xmlns='" + stanza.NSClient + "'"
		}
		if decl == "" {
			return el
		}
	case hasAttr(el[:tagEnd], "xmlns"):
		return el
	default:
		decl = " xmlns='" + stanza.NSClient + "'"
	}
	out := make([]byte, 0, len(el)+len(decl))
	out = append(out, el[:name]...)
	out = append(out, decl...)
	return append(out, el[name:]...)
}

// inheritsDefault reports whether an element in content (what follows a
// start tag, up to the end of the element) has no prefix and no default
// namespace declared on it or on an ancestor within content.
func inheritsDefault(content []byte) bool {
	var set []bool // per open element: a default namespace is in scope
	for i := 0; i < len(content); {
		j := bytes.IndexByte(content[i:], '<')
		if j < 0 {
			return false
		}
		i += j
		if bytes.HasPrefix(content[i:], []byte("</")) {
			if len(set) > 0 {
				set = set[:len(set)-1]
			}
			i += 2
			continue
		}
		n, attrsEnd, err := startTag(content[i:])
		if err != nil {
			return false
		}
		tag := content[i : i+attrsEnd]
		inScope := hasAttr(tag, "xmlns") || len(set) > 0 && set[len(set)-1]
		name := 1
		for name < len(tag) && !isSpace(tag[name]) {
			name++
		}
		if !inScope && bytes.IndexByte(tag[1:name], ':') < 0 {
			return true
		}
		if attrsEnd != n-2 {
			set = append(set, inScope)
		}
		i += n
	}
	return false
}

// hasAttr reports whether the start tag (up to where its attributes end)
// has an attribute called name. It reads names, not values: a value may
// hold " xmlns='…'" (a client chose it), and XML allows any white space
// around the names.
func hasAttr(tag []byte, name string) bool {
	i := 1
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' && tag[i] != '/' {
		i++ // the element's name
	}
	skipSpace := func() {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
	}
	for {
		skipSpace()
		start := i
		for i < len(tag) && !isSpace(tag[i]) && tag[i] != '=' && tag[i] != '>' && tag[i] != '/' {
			i++
		}
		if i == start {
			return false
		}
		attr := tag[start:i]
		skipSpace()
		if i >= len(tag) || tag[i] != '=' {
			return false
		}
		i++
		skipSpace()
		if i >= len(tag) || tag[i] != '\'' && tag[i] != '"' {
			return false
		}
		end := bytes.IndexByte(tag[i+1:], tag[i])
		if end < 0 {
			return false
		}
		if string(attr) == name {
			return true
		}
		i += end + 2
	}
}

// startTag returns the length of the start tag at the beginning of b,
// where its attributes end (before '>' or '/>'), and whether it closes
// itself.
func startTag(b []byte) (n, attrsEnd int, err error) {
	var quote byte
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			if b[i-1] == '/' {
				return i + 1, i - 1, nil
			}
			return i + 1, i, nil
		}
	}
	return 0, 0, errPartial
}

// elementLen returns the length of the whole element at the beginning of
// b (written by this server's serializer or a client: well-formed, with
// '<' escaped in text and attributes).
func elementLen(b []byte) (int, error) {
	depth := 0
	i := 0
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			return 0, errPartial
		}
		i += j
		if bytes.HasPrefix(b[i:], []byte("</")) {
			end := bytes.IndexByte(b[i:], '>')
			if end < 0 {
				return 0, errPartial
			}
			i += end + 1
			depth--
			if depth == 0 {
				return i, nil
			}
			continue
		}
		n, attrsEnd, err := startTag(b[i:])
		if err != nil {
			return 0, err
		}
		selfClosing := attrsEnd == n-2
		i += n
		if !selfClosing {
			depth++
		} else if depth == 0 {
			return i, nil
		}
	}
	return 0, errPartial
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
