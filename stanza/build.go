package stanza

// A stanza is parsed in two steps. The tokenizer writes every name, value
// and piece of text into one reused byte arena and records the tree as
// offsets into it. Once the stanza is complete, build turns that record
// into Elements with four allocations whatever the stanza's size: one
// string for all the text, one slice each of elements, attributes and
// child nodes. Nothing is allocated for a stanza that turns out bad.

// scratch is the parser's reusable working memory for one item.
type scratch struct {
	arena []byte
	els   []pelem
	attrs []pattr
	nodes []pnode
	binds []binding
	open  []openEl
}

// ns names a namespace URI: arena bytes [off, end) when off >= 0, else
// Parser.outer[-off-1].
type ns struct{ off, end int32 }

func outerNS(i int) ns { return ns{off: int32(-1 - i)} }

// pelem is an element: its qualified name is arena[qname:end], its local
// name arena[local:end].
type pelem struct {
	qname, local, end int32
	space             ns
	attrs, attrsEnd   int32 // range in scratch.attrs
	nodes             int32 // number of children
}

// pattr is an attribute; colon is the offset of the ':' in its name, or -1.
type pattr struct {
	name, colon, nameEnd int32
	val, valEnd          int32
}

// pnode is a child of element parent: element el, or the text
// arena[off:end] when el < 0.
type pnode struct {
	parent, el, off, end int32
}

// binding is a prefix declared inside the stanza: arena[off:end] → uri.
type binding struct {
	off, end int32
	uri      ns
}

// openEl is an element whose end tag is awaited.
type openEl struct {
	el    int32
	binds int32 // len(scratch.binds) before its declarations
	def   ns    // default namespace in force inside it
}

func (sc *scratch) reset() {
	sc.arena = sc.arena[:0]
	sc.els = sc.els[:0]
	sc.attrs = sc.attrs[:0]
	sc.nodes = sc.nodes[:0]
	sc.binds = sc.binds[:0]
	sc.open = sc.open[:0]
}

// trim lets go of memory that a large stanza made grow, so that idle
// connections stay small.
func (sc *scratch) trim() {
	if cap(sc.arena) > 8<<10 || cap(sc.els) > 256 || cap(sc.nodes) > 256 || cap(sc.attrs) > 256 {
		*sc = scratch{}
	}
}

// build returns the item recorded in the scratch; its root is els[0].
func (p *Parser) build() *Element {
	sc := &p.sc
	s := string(sc.arena)
	els := make([]Element, len(sc.els))
	var attrs []Attr
	if len(sc.attrs) > 0 {
		attrs = make([]Attr, len(sc.attrs))
		for i, a := range sc.attrs {
			attrs[i] = Attr{Name: s[a.name:a.nameEnd], Value: s[a.val:a.valEnd]}
		}
	}
	var nodes []Node
	if len(sc.nodes) > 0 {
		nodes = make([]Node, len(sc.nodes))
	}
	n := int32(0)
	for i := range sc.els {
		pe, e := &sc.els[i], &els[i]
		e.Name = s[pe.local:pe.end]
		e.Space = p.nsString(pe.space, s)
		if pe.attrsEnd > pe.attrs {
			// Capacities are cut so that appending to one element's
			// slice cannot write over its neighbour's.
			e.Attrs = attrs[pe.attrs:pe.attrsEnd:pe.attrsEnd]
		}
		if pe.nodes > 0 {
			e.Nodes = nodes[n : n : n+pe.nodes]
			n += pe.nodes
		}
	}
	for _, pn := range sc.nodes {
		par := &els[pn.parent]
		if pn.el >= 0 {
			par.Nodes = append(par.Nodes, Node{Elem: &els[pn.el]})
		} else {
			par.Nodes = append(par.Nodes, Node{Text: s[pn.off:pn.end]})
		}
	}
	return &els[0]
}

func (p *Parser) nsString(n ns, s string) string {
	if n.off >= 0 {
		return s[n.off:n.end]
	}
	return p.outer[-n.off-1]
}

// nsEqual compares namespaces by value, for the duplicate attribute check.
func (p *Parser) nsEqual(a, b ns) bool {
	return p.nsText(a) == p.nsText(b)
}

func (p *Parser) nsText(n ns) string {
	if n.off >= 0 {
		return string(p.sc.arena[n.off:n.end])
	}
	return p.outer[-n.off-1]
}
