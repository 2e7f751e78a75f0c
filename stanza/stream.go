package stanza

import (
	"io"
	"strings"
)

// readHeader reads the optional XML declaration and the stream header.
func (p *Parser) readHeader() (*Element, error) {
	if p.pos == len(p.buf) {
		if err := p.fill(); err != nil {
			return nil, err // io.EOF: the peer sent nothing
		}
	}
	c, err := p.next()
	if err != nil {
		return nil, err
	}
	switch c {
	case 0xEF: // UTF-8 byte order mark
		if err := p.expect("\xBB\xBF"); err != nil {
			return nil, err
		}
		if c, err = p.next(); err != nil {
			return nil, err
		}
	case 0xFE, 0xFF, 0:
		return nil, streamErr(UnsupportedEncoding, "only UTF-8 is supported")
	}
	if c == '<' {
		if c, err = p.peek(); err != nil {
			return nil, err
		}
		if c == '?' {
			p.pos++
			if err := p.xmlDecl(); err != nil {
				return nil, err
			}
			c = ' '
		} else {
			c = '<'
		}
	}
	if isSpace(c) {
		if c, err = p.skipSpace(false); err != nil {
			return nil, unexpected(err)
		}
	} else {
		p.mark = p.off + int64(p.pos) - 1
	}
	if c != '<' {
		return nil, notWellFormed("expected the stream header")
	}
	if c, err = p.next(); err != nil {
		return nil, err
	}
	switch c {
	case '?':
		return nil, streamErr(RestrictedXML, "processing instructions are not allowed")
	case '!':
		if c, err = p.next(); err != nil {
			return nil, err
		}
		return nil, p.declaration(c)
	}
	empty, err := p.startTag(c, true)
	if err != nil {
		return nil, err
	}
	h := p.build()
	p.closeTag = append(p.closeTag[:0], p.sc.arena[p.sc.els[0].qname:p.sc.els[0].end]...)
	p.sc.reset()
	if h.Space != NSStream {
		return nil, streamErr(InvalidNamespace, "the stream namespace must be "+NSStream)
	}
	if h.Name != "stream" {
		return nil, streamErr(BadFormat, "expected the stream header")
	}
	for _, a := range h.Attrs {
		if a.Name == "xmlns" {
			p.streamDef = len(p.outer)
			p.outer = append(p.outer, a.Value)
			p.outerPrefix = append(p.outerPrefix, "")
		} else if prefix, ok := strings.CutPrefix(a.Name, "xmlns:"); ok {
			p.outer = append(p.outer, a.Value)
			p.outerPrefix = append(p.outerPrefix, prefix)
		}
	}
	p.state = stateStream
	if empty {
		p.state = stateClosing
	}
	return h, nil
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readItem reads the next top-level element of the stream.
func (p *Parser) readItem() (*Element, error) {
	c, err := p.skipSpace(p.yield)
	if err != nil {
		return nil, err
	}
	if c != '<' {
		return nil, streamErr(BadFormat, "text is not allowed between stanzas")
	}
	if c, err = p.next(); err != nil {
		return nil, err
	}
	switch c {
	case '/':
		if err := p.matchEnd(p.closeTag); err != nil {
			return nil, err
		}
		return nil, ErrStreamClosed
	case '?':
		return nil, streamErr(RestrictedXML, "processing instructions are not allowed")
	case '!':
		if c, err = p.next(); err != nil {
			return nil, err
		}
		if c == '[' {
			return nil, streamErr(BadFormat, "text is not allowed between stanzas")
		}
		return nil, p.declaration(c)
	}
	p.sc.reset()
	empty, err := p.startTag(c, false)
	if err != nil {
		return nil, err
	}
	if !empty {
		if err := p.content(); err != nil {
			return nil, err
		}
	}
	return p.build(), nil
}
