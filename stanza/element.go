// Package stanza holds Parley's XML element tree, the streaming parser for
// the restricted XML that XMPP allows (RFC 6120 §11), and the table of
// stream and stanza error conditions.
//
// It knows nothing about connections, sessions or routing: it turns bytes
// into elements and elements back into bytes.
package stanza

import (
	"strings"
)

// Well-known namespaces.
const (
	NSClient   = "jabber:client"
	NSServer   = "jabber:server"
	NSStream   = "http://etherx.jabber.org/streams"
	NSStreams  = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession  = "urn:ietf:params:xml:ns:xmpp-session"
	NSXML      = "http://www.w3.org/XML/1998/namespace"
	NSDelay    = "urn:xmpp:delay"
	NSRoster   = "jabber:iq:roster"
	NSRosterV  = "urn:xmpp:features:rosterver"
	NSPreAppr  = "urn:xmpp:features:pre-approval"
	NSRegister = "jabber:iq:register"
)

// Attr is one attribute. Name keeps its prefix ("xml:lang", "xmlns:foo");
// default namespace declarations are not kept as attributes: they are
// carried by Element.Space instead.
type Attr struct {
	Name  string
	Value string
}

// Node is one child of an element: either character data or an element.
type Node struct {
	Text string   // unescaped character data, when Elem is nil
	Elem *Element // a child element, or nil for text
}

// Element is an XML element. Elements handed between layers are treated as
// immutable: code that needs a changed stanza makes a shallow copy with
// Copy and changes the copy.
type Element struct {
	Name  string // local name, without prefix
	Space string // resolved namespace URI
	Attrs []Attr
	Nodes []Node
}

// New returns an element with the given name, namespace and attributes
// given as name, value pairs.
func New(name, space string, attrs ...string) *Element {
	e := &Element{Name: name, Space: space}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attrs = append(e.Attrs, Attr{Name: attrs[i], Value: attrs[i+1]})
	}
	return e
}

// Attr returns the value of the named attribute, or "" when absent.
func (e *Element) Attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// HasAttr reports whether the named attribute is present.
func (e *Element) HasAttr(name string) bool {
	for _, a := range e.Attrs {
		if a.Name == name {
			return true
		}
	}
	return false
}

// SetAttr sets (or, when value is "", removes) an attribute in place. Use it
// only on elements you own (a Copy, or one you built).
func (e *Element) SetAttr(name, value string) *Element {
	for i, a := range e.Attrs {
		if a.Name == name {
			if value == "" {
				e.Attrs = append(e.Attrs[:i:i], e.Attrs[i+1:]...)
			} else {
				e.Attrs[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attrs = append(e.Attrs, Attr{Name: name, Value: value})
	}
	return e
}

// Copy returns a shallow copy: its own attribute and node slices, sharing
// the child elements.
func (e *Element) Copy() *Element {
	c := *e
	c.Attrs = append([]Attr(nil), e.Attrs...)
	c.Nodes = append([]Node(nil), e.Nodes...)
	return &c
}

// Append adds child elements and returns e.
func (e *Element) Append(children ...*Element) *Element {
	for _, c := range children {
		if c != nil {
			e.Nodes = append(e.Nodes, Node{Elem: c})
		}
	}
	return e
}

// SetText replaces all children with one text node.
func (e *Element) SetText(s string) *Element {
	e.Nodes = e.Nodes[:0:0]
	if s != "" {
		e.Nodes = append(e.Nodes, Node{Text: s})
	}
	return e
}

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	switch n := len(e.Nodes); {
	case n == 0:
		return ""
	case n == 1:
		return e.Nodes[0].Text
	}
	var b strings.Builder
	for _, n := range e.Nodes {
		b.WriteString(n.Text)
	}
	return b.String()
}

// Child returns the first child element with this name and namespace; an
// empty space matches any namespace.
func (e *Element) Child(name, space string) *Element {
	for _, n := range e.Nodes {
		if c := n.Elem; c != nil && c.Name == name && (space == "" || c.Space == space) {
			return c
		}
	}
	return nil
}

// ChildNS returns the first child element in the namespace, whatever its name.
func (e *Element) ChildNS(space string) *Element {
	for _, n := range e.Nodes {
		if c := n.Elem; c != nil && c.Space == space {
			return c
		}
	}
	return nil
}

// Elements returns the child elements in order.
func (e *Element) Elements() []*Element {
	out := make([]*Element, 0, len(e.Nodes))
	for _, n := range e.Nodes {
		if n.Elem != nil {
			out = append(out, n.Elem)
		}
	}
	return out
}

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element {
	for _, n := range e.Nodes {
		if n.Elem != nil {
			return n.Elem
		}
	}
	return nil
}

// Is reports whether e has this name and namespace.
func (e *Element) Is(name, space string) bool {
	return e != nil && e.Name == name && e.Space == space
}

// Convenience accessors for the common stanza attributes.
func (e *Element) To() string   { return e.Attr("to") }
func (e *Element) From() string { return e.Attr("from") }
func (e *Element) ID() string   { return e.Attr("id") }
func (e *Element) Type() string { return e.Attr("type") }

// IsStanza reports whether e is a message, presence or iq in the client or
// server namespace.
func (e *Element) IsStanza() bool {
	if e.Space != NSClient && e.Space != NSServer {
		return false
	}
	switch e.Name {
	case "message", "presence", "iq":
		return true
	}
	return false
}
