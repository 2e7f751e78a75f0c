package stanza

import "unicode/utf8"

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
