package stanza

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// startTag reads a start tag whose first name byte c has been read, up to
// and including its '>', and opens the element. empty reports a
// self-closing tag. The stream header keeps its default namespace
// declaration among its attributes; other elements carry it in Space.
func (p *Parser) startTag(c byte, header bool) (empty bool, err error) {
	sc := &p.sc
	if len(sc.open) >= p.lim.MaxDepth {
		return false, streamErr(StreamPolicyViolation,
			"elements nested deeper than "+strconv.Itoa(p.lim.MaxDepth))
	}
	qname := len(sc.arena)
	colon, c, err := p.name(c)
	if err != nil {
		return false, err
	}
	end := len(sc.arena)
	first := len(sc.attrs)
	for {
		space := false
		for isSpace(c) {
			space = true
			if c, err = p.next(); err != nil {
				return false, err
			}
		}
		if c == '>' {
			break
		}
		if c == '/' {
			if c, err = p.next(); err != nil {
				return false, err
			}
			if c != '>' {
				return false, notWellFormed("expected '>' after '/'")
			}
			empty = true
			break
		}
		if !space {
			return false, notWellFormed("attributes must be separated by white space")
		}
		if len(sc.attrs)-first >= p.lim.MaxAttrs {
			return false, streamErr(StreamPolicyViolation,
				"more than "+strconv.Itoa(p.lim.MaxAttrs)+" attributes")
		}
		if c, err = p.attr(c); err != nil {
			return false, err
		}
	}
	return empty, p.openElement(qname, colon, end, first, header)
}

// attr reads one attribute whose name starts with c and returns the byte
// after its closing quote.
func (p *Parser) attr(c byte) (byte, error) {
	sc := &p.sc
	a := pattr{name: int32(len(sc.arena))}
	colon, c, err := p.name(c)
	if err != nil {
		return 0, err
	}
	a.colon, a.nameEnd = int32(colon), int32(len(sc.arena))
	for isSpace(c) {
		if c, err = p.next(); err != nil {
			return 0, err
		}
	}
	if c != '=' {
		return 0, notWellFormed("attribute without a value")
	}
	if c, err = p.next(); err != nil {
		return 0, err
	}
	for isSpace(c) {
		if c, err = p.next(); err != nil {
			return 0, err
		}
	}
	if c != '"' && c != '\'' {
		return 0, notWellFormed("attribute value not quoted")
	}
	a.val = int32(len(sc.arena))
	if err := p.attrValue(c); err != nil {
		return 0, err
	}
	a.valEnd = int32(len(sc.arena))
	sc.attrs = append(sc.attrs, a)
	return p.next()
}

// name appends an XML name that starts with c, the byte just read, to the
// arena. It returns the arena offset of the name's colon (-1 if none) and
// the byte after the name. Names must also be qualified names (Namespaces
// in XML §3): at most one colon, with a name on each side.
func (p *Parser) name(c byte) (colon int, next byte, err error) {
	if colon, next, ok := p.fastName(c); ok {
		return colon, next, nil
	}
	return p.slowName(c)
}

// fastName handles the common case, an ASCII name that lies whole in the
// window, without going byte by byte; ok is false for anything else.
func (p *Parser) fastName(c byte) (colon int, next byte, ok bool) {
	b, start := p.buf, p.pos-1
	if start < 0 || start >= len(b) || b[start] != c {
		return 0, 0, false
	}
	at := -1 // index of the colon in b
	i := start
	for {
		if i >= len(b) || charClass[b[i]]&cNameStart == 0 {
			return 0, 0, false
		}
		for i++; i < len(b) && charClass[b[i]]&cName != 0; i++ {
		}
		if i >= len(b) || b[i] != ':' {
			break
		}
		if at >= 0 {
			return 0, 0, false
		}
		at = i
		i++
	}
	if i >= len(b) || b[i] >= utf8.RuneSelf {
		return 0, 0, false
	}
	colon = -1
	if at >= 0 {
		colon = len(p.sc.arena) + at - start
	}
	p.sc.arena = append(p.sc.arena, b[start:i]...)
	p.pos = i + 1
	return colon, b[i], true
}

func (p *Parser) slowName(c byte) (colon int, next byte, err error) {
	sc := &p.sc
	colon = -1
	start := true // the next character starts a name or a local part
	for {
		switch cl := charClass[c]; {
		case cl&cNameStart != 0:
			sc.arena = append(sc.arena, c)
		case c == ':':
			if start || colon >= 0 {
				return 0, 0, notWellFormed("invalid qualified name")
			}
			colon = len(sc.arena)
			sc.arena = append(sc.arena, c)
			start = true
			if c, err = p.next(); err != nil {
				return 0, 0, err
			}
			continue
		case cl&cName != 0:
			if start {
				return 0, 0, notWellFormed("invalid name")
			}
			sc.arena = append(sc.arena, c)
		case c < utf8.RuneSelf:
			if start {
				return 0, 0, notWellFormed("invalid name")
			}
			return colon, c, nil
		default:
			at := len(sc.arena)
			if err := p.char(c); err != nil {
				return 0, 0, err
			}
			if r, _ := utf8.DecodeRune(sc.arena[at:]); !isNameRune(r, start) {
				return 0, 0, notWellFormed("invalid name")
			}
		}
		start = false
		if c, err = p.next(); err != nil {
			return 0, 0, err
		}
	}
}

// endTag reads an end tag after "</" and closes the innermost element.
// done reports that it closed the item's root.
func (p *Parser) endTag() (done bool, err error) {
	sc := &p.sc
	pe := &sc.els[sc.open[len(sc.open)-1].el]
	if err := p.matchEnd(sc.arena[pe.qname:pe.end]); err != nil {
		return false, err
	}
	p.closeElement()
	return len(sc.open) == 0, nil
}

// matchEnd reads the rest of an end tag, which must name want.
func (p *Parser) matchEnd(want []byte) error {
	if end := p.pos + len(want); end < len(p.buf) && p.buf[end] == '>' &&
		bytes.Equal(p.buf[p.pos:end], want) {
		p.pos = end + 1
		return nil
	}
	for _, w := range want {
		c, err := p.next()
		if err != nil {
			return err
		}
		if c != w {
			return notWellFormed("end tag does not match start tag")
		}
	}
	c, err := p.next()
	for err == nil && isSpace(c) {
		c, err = p.next()
	}
	if err != nil {
		return err
	}
	if c != '>' {
		return notWellFormed("end tag does not match start tag")
	}
	return nil
}

func (p *Parser) closeElement() {
	sc := &p.sc
	o := sc.open[len(sc.open)-1]
	sc.binds = sc.binds[:o.binds]
	sc.open = sc.open[:len(sc.open)-1]
}
