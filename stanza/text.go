package stanza

import "unicode/utf8"

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
		switch {
		case c == '<':
			if c, err = p.next(); err != nil {
				return err
			}
			if c == '!' {
				// CDATA continues the current text; anything else
				// after "<!" is an error.
				err = p.bang()
				brackets = 0
				break
			}
			p.flushText(text)
			done, err := p.markup(c)
			if err != nil || done {
				return err
			}
			text = len(sc.arena)
			brackets = 0
		case c == '&':
			err = p.ref()
			brackets = 0
		case c == ']':
			sc.arena = append(sc.arena, c)
			brackets++
		case c == '>':
			if brackets >= 2 {
				return notWellFormed("']]>' in character data")
			}
			sc.arena = append(sc.arena, c)
			brackets = 0
		case c == '\r':
			err = p.newline('\n')
			brackets = 0
		default:
			err = p.char(c)
			brackets = 0
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

// newline writes repl for a '\r' just read, swallowing a '\n' after it:
// XML turns both "\r\n" and a lone "\r" into one line feed (§2.11).
func (p *Parser) newline(repl byte) error {
	p.sc.arena = append(p.sc.arena, repl)
	c, err := p.peek()
	if err == nil && c == '\n' {
		p.pos++
	}
	return err
}

// char checks and writes a byte that the fast paths left alone: a control
// character, which is an error, or the start of a multi-byte rune.
func (p *Parser) char(c byte) error {
	if c < utf8.RuneSelf {
		if c == '\t' || c == '\n' || c >= 0x20 {
			p.sc.arena = append(p.sc.arena, c)
			return nil
		}
		return notWellFormed("character not allowed in XML")
	}
	var r rune
	if i := p.pos - 1; i+utf8.UTFMax <= len(p.buf) || utf8.FullRune(p.buf[i:]) {
		var n int
		r, n = utf8.DecodeRune(p.buf[i:])
		if r == utf8.RuneError && n == 1 {
			return notWellFormed("invalid UTF-8")
		}
		p.sc.arena = append(p.sc.arena, p.buf[i:i+n]...)
		p.pos = i + n
	} else {
		var err error
		if r, err = p.slowRune(c); err != nil {
			return err
		}
	}
	if r == 0xFFFE || r == 0xFFFF {
		return notWellFormed("character not allowed in XML")
	}
	return nil
}

// slowRune reads a rune that starts with c and straddles the end of the
// window, and writes it to the arena.
func (p *Parser) slowRune(c byte) (rune, error) {
	var b [utf8.UTFMax]byte
	b[0] = c
	n := 1
	// Read until the bytes make a rune or cannot start one, as
	// utf8.FullRune decides, so that errors do not depend on where the
	// reads split the input.
	for ; !utf8.FullRune(b[:n]); n++ {
		var err error
		if b[n], err = p.next(); err != nil {
			return 0, err
		}
	}
	r, size := utf8.DecodeRune(b[:n])
	if r == utf8.RuneError && size == 1 {
		return 0, notWellFormed("invalid UTF-8")
	}
	p.sc.arena = append(p.sc.arena, b[:n]...)
	return r, nil
}

// attrValue reads an attribute value up to the closing quote, normalizing
// white space to spaces as XML requires for attributes (§3.3.3).
func (p *Parser) attrValue(quote byte) error {
	sc := &p.sc
	for {
		b, i := p.buf, p.pos
		for i < len(b) && charClass[b[i]]&cAttr != 0 {
			i++
		}
		if i > p.pos {
			sc.arena = append(sc.arena, b[p.pos:i]...)
			p.pos = i
		}
		c, err := p.next()
		if err != nil {
			return err
		}
		switch c {
		case quote:
			return nil
		case '"', '\'':
			sc.arena = append(sc.arena, c)
		case '<':
			return notWellFormed("'<' in attribute value")
		case '&':
			err = p.ref()
		case '\t', '\n':
			sc.arena = append(sc.arena, ' ')
		case '\r':
			err = p.newline(' ')
		default:
			err = p.char(c)
		}
		if err != nil {
			return err
		}
	}
}

// ref reads a reference after '&' and writes the character it stands for.
// Only the predefined entities and character references exist in XMPP.
func (p *Parser) ref() error {
	c, err := p.next()
	if err != nil {
		return err
	}
	if c == '#' {
		return p.charRef()
	}
	sc := &p.sc
	start := len(sc.arena)
	_, c, err = p.name(c)
	if err != nil {
		if _, ok := err.(*StreamError); ok {
			err = notWellFormed("invalid reference")
		}
		return err
	}
	if c != ';' {
		return notWellFormed("reference without ';'")
	}
	var r byte
	switch string(sc.arena[start:]) {
	case "lt":
		r = '<'
	case "gt":
		r = '>'
	case "amp":
		r = '&'
	case "quot":
		r = '"'
	case "apos":
		r = '\''
	default:
		return streamErr(RestrictedXML, "entity references are not allowed")
	}
	sc.arena = sc.arena[:start]
	sc.arena = append(sc.arena, r)
	return nil
}

// charRef reads a character reference after "&#".
func (p *Parser) charRef() error {
	c, err := p.next()
	if err != nil {
		return err
	}
	base := rune(10)
	if c == 'x' {
		base = 16
		if c, err = p.next(); err != nil {
			return err
		}
	}
	var r rune
	digits := 0
	for ; ; digits++ {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			if digits == 0 || c != ';' {
				return notWellFormed("invalid character reference")
			}
			if !isChar(r) {
				return notWellFormed("character reference to a character not allowed in XML")
			}
			p.sc.arena = utf8.AppendRune(p.sc.arena, r)
			return nil
		}
		if r <= utf8.MaxRune { // beyond, it is invalid anyway: stop growing
			r = r*base + d
		}
		if c, err = p.next(); err != nil {
			return err
		}
	}
}
