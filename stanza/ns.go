package stanza

import "bytes"

// nsXMLNS is the namespace of namespace declarations; no prefix may be
// bound to it (Namespaces in XML §3).
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// openElement applies the namespace declarations of the start tag just
// read, resolves its names and opens the element. Its name is
// arena[qname:end] with its colon at colon (or -1); its attributes are
// sc.attrs[first:].
func (p *Parser) openElement(qname, colon, end, first int, header bool) error {
	sc := &p.sc
	if err := p.checkDuplicates(first); err != nil {
		return err
	}
	def, parent := outerNS(p.streamDef), int32(-1)
	if n := len(sc.open); n > 0 {
		def, parent = sc.open[n-1].def, sc.open[n-1].el
	}
	binds := len(sc.binds)
	kept := first
	for i := first; i < len(sc.attrs); i++ {
		a := sc.attrs[i]
		switch {
		case a.colon < 0 && string(sc.arena[a.name:a.nameEnd]) == "xmlns":
			if err := checkURI(sc.arena[a.val:a.valEnd]); err != nil {
				return err
			}
			def = ns{a.val, a.valEnd}
			if !header {
				continue // carried by Element.Space
			}
		case a.colon >= 0 && string(sc.arena[a.name:a.colon]) == "xmlns":
			if err := p.declare(a); err != nil {
				return err
			}
		}
		sc.attrs[kept] = a
		kept++
	}
	sc.attrs = sc.attrs[:kept]
	if err := p.checkAttrPrefixes(first); err != nil {
		return err
	}

	space, local := def, qname
	if colon >= 0 {
		prefix := sc.arena[qname:colon]
		var ok bool
		if space, ok = p.lookup(prefix); !ok || string(prefix) == "xmlns" {
			return streamErr(BadNamespacePrefix, "undeclared namespace prefix")
		}
		local = colon + 1
	}
	el := int32(len(sc.els))
	sc.els = append(sc.els, pelem{
		qname: int32(qname), local: int32(local), end: int32(end),
		space: space, attrs: int32(first), attrsEnd: int32(kept),
	})
	if parent >= 0 {
		sc.nodes = append(sc.nodes, pnode{parent: parent, el: el})
		sc.els[parent].nodes++
	}
	sc.open = append(sc.open, openEl{el: el, binds: int32(binds), def: def})
	return nil
}

// checkDuplicates rejects an attribute written twice (XML §3.1). Elements
// have few attributes, so comparing every pair costs less than hashing.
func (p *Parser) checkDuplicates(first int) error {
	sc := &p.sc
	for i := first + 1; i < len(sc.attrs); i++ {
		a := sc.arena[sc.attrs[i].name:sc.attrs[i].nameEnd]
		for _, b := range sc.attrs[first:i] {
			if bytes.Equal(a, sc.arena[b.name:b.nameEnd]) {
				return notWellFormed("duplicate attribute")
			}
		}
	}
	return nil
}

// checkAttrPrefixes checks that attribute prefixes are declared, and that
// no two attributes have the same local name in the same namespace under
// different prefixes (Namespaces in XML §6.3).
func (p *Parser) checkAttrPrefixes(first int) error {
	sc := &p.sc
	for i := first; i < len(sc.attrs); i++ {
		a := sc.attrs[i]
		if a.colon < 0 {
			continue
		}
		prefix := sc.arena[a.name:a.colon]
		if string(prefix) == "xmlns" {
			continue
		}
		space, ok := p.lookup(prefix)
		if !ok {
			return streamErr(BadNamespacePrefix, "undeclared namespace prefix")
		}
		local := sc.arena[a.colon+1 : a.nameEnd]
		for _, b := range sc.attrs[first:i] {
			if b.colon < 0 || !bytes.Equal(local, sc.arena[b.colon+1:b.nameEnd]) ||
				string(sc.arena[b.name:b.colon]) == "xmlns" {
				continue
			}
			if other, _ := p.lookup(sc.arena[b.name:b.colon]); p.nsEqual(space, other) {
				return notWellFormed("duplicate attribute")
			}
		}
	}
	return nil
}

// declare binds the prefix of an xmlns:prefix attribute.
func (p *Parser) declare(a pattr) error {
	sc := &p.sc
	prefix, uri := sc.arena[a.colon+1:a.nameEnd], sc.arena[a.val:a.valEnd]
	switch {
	case string(prefix) == "xml":
		if string(uri) != NSXML {
			return streamErr(BadNamespacePrefix, "the xml prefix cannot be rebound")
		}
		return nil // bound already
	case string(prefix) == "xmlns":
		return streamErr(BadNamespacePrefix, "the xmlns prefix cannot be declared")
	case len(uri) == 0:
		return streamErr(BadNamespacePrefix, "a namespace prefix cannot be undeclared")
	}
	if err := checkURI(uri); err != nil {
		return err
	}
	sc.binds = append(sc.binds, binding{off: a.colon + 1, end: a.nameEnd, uri: ns{a.val, a.valEnd}})
	return nil
}

// checkURI rejects declaring the two reserved namespaces.
func checkURI(uri []byte) error {
	if string(uri) == NSXML || string(uri) == nsXMLNS {
		return notWellFormed("reserved namespace declared")
	}
	return nil
}

// lookup resolves a prefix: declarations in the stanza, then the stream
// header's, then the predefined xml prefix.
func (p *Parser) lookup(prefix []byte) (ns, bool) {
	sc := &p.sc
	for i := len(sc.binds) - 1; i >= 0; i-- {
		if b := sc.binds[i]; bytes.Equal(sc.arena[b.off:b.end], prefix) {
			return b.uri, true
		}
	}
	for i := len(p.outerPrefix) - 1; i >= 2; i-- {
		if p.outerPrefix[i] == string(prefix) {
			return outerNS(i), true
		}
	}
	if string(prefix) == "xml" {
		return outerNS(1), true
	}
	return ns{}, false
}
