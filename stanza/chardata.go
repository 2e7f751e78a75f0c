package stanza

import "unicode/utf8"

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
