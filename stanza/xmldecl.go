package stanza

import "bytes"

// xmlDecl reads what follows "<?" at the very start of the stream. Only
// the XML declaration may be there: any other processing instruction is
// restricted XML.
func (p *Parser) xmlDecl() error {
	sc := &p.sc
	sc.reset()
	c, err := p.next()
	if err != nil {
		return err
	}
	if _, c, err = p.name(c); err != nil {
		return err
	}
	if string(sc.arena) != "xml" {
		return streamErr(RestrictedXML, "processing instructions are not allowed")
	}
	sc.arena = sc.arena[:0]
	for prev := byte(0); prev != '?' || c != '>'; {
		sc.arena = append(sc.arena, c)
		prev = c
		if c, err = p.next(); err != nil {
			return err
		}
	}
	err = parseXMLDecl(sc.arena[:len(sc.arena)-1])
	sc.reset()
	return err
}

// parseXMLDecl checks the pseudo-attributes of an XML declaration
// (XML §2.8): the text between "<?xml" and "?>".
func parseXMLDecl(b []byte) error {
	d := declScanner{b: b}
	v, ok := d.attr("version")
	if !ok {
		return notWellFormed("malformed XML declaration")
	}
	if string(v) != "1.0" {
		return notWellFormed("only XML 1.0 is supported")
	}
	if v, ok := d.attr("encoding"); ok {
		if !isEncName(v) {
			return notWellFormed("malformed XML declaration")
		}
		if !bytes.EqualFold(v, []byte("UTF-8")) {
			return streamErr(UnsupportedEncoding, "only UTF-8 is supported")
		}
	}
	if v, ok := d.attr("standalone"); ok && string(v) != "yes" && string(v) != "no" {
		return notWellFormed("malformed XML declaration")
	}
	d.space()
	if d.i != len(d.b) {
		return notWellFormed("malformed XML declaration")
	}
	return nil
}

type declScanner struct {
	b []byte
	i int
}

func (d *declScanner) space() bool {
	i := d.i
	for d.i < len(d.b) && isSpace(d.b[d.i]) {
		d.i++
	}
	return d.i > i
}

// attr reads ` name = 'value'` and returns the value; when the input does
// not have that form it consumes nothing.
func (d *declScanner) attr(name string) ([]byte, bool) {
	save := d.i
	if !d.space() || !bytes.HasPrefix(d.b[d.i:], []byte(name)) {
		d.i = save
		return nil, false
	}
	d.i += len(name)
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != '=' {
		d.i = save
		return nil, false
	}
	d.i++
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != '"' && d.b[d.i] != '\'' {
		d.i = save
		return nil, false
	}
	q := d.b[d.i]
	end := bytes.IndexByte(d.b[d.i+1:], q)
	if end < 0 {
		d.i = save
		return nil, false
	}
	v := d.b[d.i+1 : d.i+1+end]
	d.i += end + 2
	return v, true
}

// isEncName checks EncName ::= [A-Za-z] ([A-Za-z0-9._] | '-')*.
func isEncName(v []byte) bool {
	for i, c := range v {
		letter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')) {
			return false
		}
	}
	return len(v) > 0
}
