package stanza

// content reads the inside of the element just opened, up to the end tag
// that closes the item's root, recording text and child elements.
func (p *Parser) content() error {
	sc := &p.sc
	text := len(sc.arena) // where the current run of text began
	brackets := 0         // literal ']' just read: "]]>" is not allowed in text
	for {
		b, i := p.buf, p.pos
		for i < len(b) && charClass[b[i]]&cText != 0 {
			i++
		}
		if i > p.pos {
			sc.arena = append(sc.arena, b[p.pos:i]...)
			p.pos = i
			brackets = 0
		}
		c, err := p.next()
		if err != nil {
			return err
		}
		if c == ']' {
			sc.arena = append(sc.arena, c)
			brackets++
			continue
		}
		closing := brackets >= 2
		brackets = 0
		switch c {
		case '<':
			if c, err = p.next(); err != nil {
				return err
			}
			if c == '!' {
				err = p.bang() // CDATA continues the current text
				break
			}
			p.flushText(text)
			done, err := p.markup(c)
			if err != nil || done {
				return err
			}
			text = len(sc.arena)
		case '&':
			err = p.ref()
		case '>':
			if closing {
				return notWellFormed("']]>' in character data")
			}
			sc.arena = append(sc.arena, c)
		case '\r':
			err = p.newline('\n')
		default:
			err = p.char(c)
		}
		if err != nil {
			return err
		}
	}
}

// flushText records the text read since offset start as a child of the
// innermost open element.
func (p *Parser) flushText(start int) {
	sc := &p.sc
	if len(sc.arena) == start {
		return
	}
	par := sc.open[len(sc.open)-1].el
	sc.nodes = append(sc.nodes, pnode{parent: par, el: -1, off: int32(start), end: int32(len(sc.arena))})
	sc.els[par].nodes++
}

// markup handles a tag inside an item; c follows its '<'. done reports
// that the item's root was closed.
func (p *Parser) markup(c byte) (done bool, err error) {
	switch c {
	case '/':
		return p.endTag()
	case '?':
		return false, streamErr(RestrictedXML, "processing instructions are not allowed")
	}
	empty, err := p.startTag(c, false)
	if err == nil && empty {
		p.closeElement()
	}
	return false, err
}

// bang handles "<!" inside an item: a CDATA section, or an error.
func (p *Parser) bang() error {
	c, err := p.next()
	if err != nil {
		return err
	}
	if c != '[' {
		return p.declaration(c)
	}
	if err := p.expect("CDATA["); err != nil {
		return err
	}
	return p.cdata()
}

// declaration reports the error for "<!" followed by c, other than CDATA.
func (p *Parser) declaration(c byte) error {
	switch {
	case c == '-':
		if c, err := p.next(); err != nil {
			return err
		} else if c == '-' {
			return streamErr(RestrictedXML, "comments are not allowed")
		}
	case c >= 'A' && c <= 'Z':
		return streamErr(RestrictedXML, "DTDs are not allowed")
	}
	return notWellFormed("invalid '<!' markup")
}

// expect consumes the bytes of s.
func (p *Parser) expect(s string) error {
	for i := 0; i < len(s); i++ {
		c, err := p.next()
		if err != nil {
			return err
		}
		if c != s[i] {
			return notWellFormed("invalid markup")
		}
	}
	return nil
}

// cdata reads a CDATA section into the current text; "<![CDATA[" is read.
func (p *Parser) cdata() error {
	sc := &p.sc
	brackets := 0
	for {
		c, err := p.next()
		if err != nil {
			return err
		}
		switch {
		case c == ']':
			sc.arena = append(sc.arena, c)
			brackets++
			continue
		case c == '>' && brackets >= 2:
			sc.arena = sc.arena[:len(sc.arena)-2]
			return nil
		case c == '\r':
			err = p.newline('\n')
		case charClass[c]&cText != 0 || c == '<' || c == '&' || c == '>':
			sc.arena = append(sc.arena, c)
		default:
			err = p.char(c)
		}
		if err != nil {
			return err
		}
		brackets = 0
	}
}
