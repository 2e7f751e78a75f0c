package stanza

import "io"

// The tokenizer reads straight from the bufio.Reader's buffer (Peek, then
// Discard once consumed) so that bytes are copied once, into the arena.

// next returns the next byte of an item. The stream may not end inside an
// item, so io.EOF becomes io.ErrUnexpectedEOF.
func (p *Parser) next() (byte, error) {
	if p.pos < len(p.buf) {
		c := p.buf[p.pos]
		p.pos++
		return c, nil
	}
	return p.more()
}

// more refills the window and returns its first byte.
func (p *Parser) more() (byte, error) {
	if err := p.fill(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	p.pos = 1
	return p.buf[0], nil
}

// peek returns the next byte of an item without consuming it.
func (p *Parser) peek() (byte, error) {
	if p.pos < len(p.buf) {
		return p.buf[p.pos], nil
	}
	c, err := p.more()
	p.pos = 0
	return c, err
}

// fill discards the whole window, which the caller has consumed, and waits
// for at least one more byte. This is where the size limit is enforced:
// the window never reaches past the item's allowance, so the item's
// first byte too many is always met here, however the input was split
// into reads.
func (p *Parser) fill() error {
	p.br.Discard(len(p.buf))
	p.off += int64(len(p.buf))
	p.buf, p.pos = nil, 0
	room := p.mark + int64(p.lim.MaxStanzaBytes) - p.off
	if room <= 0 {
		return p.tooBig()
	}
	if _, err := p.br.Peek(1); err != nil {
		return err
	}
	n := p.br.Buffered()
	if int64(n) > room {
		n = int(room)
	}
	p.buf, _ = p.br.Peek(n)
	return nil
}

// skipSpace consumes white space between items and returns the byte after
// it, which starts the next item. White space does not count toward any
// item's size, and io.EOF here is a clean end. With yield set, a run of
// white space that empties the buffer ends in errYield instead of a
// blocking read, so a keepalive does not make an idle connection hold its
// buffer (see YieldOnIdle).
func (p *Parser) skipSpace(yield bool) (byte, error) {
	consumed := false
	for {
		for p.pos < len(p.buf) {
			c := p.buf[p.pos]
			p.pos++
			if !isSpace(c) {
				p.mark = p.off + int64(p.pos) - 1
				return c, nil
			}
			consumed = true
		}
		p.mark = p.off + int64(len(p.buf))
		if yield && consumed && p.br.Buffered() == len(p.buf) {
			return 0, errYield
		}
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
}
