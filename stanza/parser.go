package stanza

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strconv"
	"sync"
)

// Limits bound what one peer can make the parser hold. A zero (or
// negative) field takes its default.
type Limits struct {
	// MaxStanzaBytes bounds the stream header and each top-level element,
	// in bytes as received; it is enforced while reading. At most 1 GiB.
	MaxStanzaBytes int
	// MaxDepth bounds element nesting within a stanza; the stanza itself is
	// at depth 1.
	MaxDepth int
	// MaxAttrs bounds the attributes of one element, namespace
	// declarations included.
	MaxAttrs int
}

// Default limits.
const (
	DefaultMaxStanzaBytes = 256 << 10
	DefaultMaxDepth       = 64
	DefaultMaxAttrs       = 64
)

func (l Limits) withDefaults() Limits {
	if l.MaxStanzaBytes <= 0 {
		l.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	l.MaxStanzaBytes = min(l.MaxStanzaBytes, 1<<30) // offsets are int32
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultMaxAttrs
	}
	return l
}

// ErrStreamClosed is returned by Next once the peer has closed its stream
// with </stream:stream>.
var ErrStreamClosed = errors.New("stanza: stream closed by peer")

// readBufferSize is the parser's read buffer. Idle connections are many
// and most stanzas are small, so it is kept small: a stanza larger than the
// buffer is simply read in several pieces.
const readBufferSize = 2048

// Parser reads one XMPP stream: the stream header, then one top-level
// element at a time. It reads only up to the end of the element it
// returns, so nothing the peer sends after it is consumed early (a stream
// restart or STARTTLS depends on that).
//
// Every error is final: Next keeps returning it. Errors in the input are
// *StreamError values with the RFC 6120 condition to send to the peer;
// io.EOF means the peer stopped between stanzas, io.ErrUnexpectedEOF in the
// middle of one; anything else comes from the reader.
//
// The strings of one returned stanza share a single allocation. Code that
// keeps a small part of a large stanza for long should strings.Clone it.
//
// A Parser belongs to the goroutine that reads the connection.
type Parser struct {
	br  *bufio.Reader
	src io.Reader
	lim Limits

	// The unread part of br's buffer is buf[pos:]; buf[:pos] is consumed
	// but not yet discarded from br. off is the stream offset of buf[0],
	// mark that of the first byte of the item being read: the size limit
	// counts from there.
	buf  []byte
	pos  int
	off  int64
	mark int64

	state int
	err   error

	// What the stream header declared, in force for every stanza: the
	// namespaces by index (outer[0] is no namespace, outer[1] the xml
	// prefix's), the prefix bound to each ("" for none), the index of the
	// default namespace, and the header's qualified name, which the
	// closing tag must repeat.
	outer       []string
	outerPrefix []string
	streamDef   int
	closeTag    []byte

	sc scratch

	yield bool // see YieldOnIdle
}

// errYield is how skipSpace says "only white space, and nothing more
// buffered"; Next turns it into an empty return.
var errYield = errors.New("stanza: idle")

// YieldOnIdle makes Next return (nil, false, nil) when, between top-level
// elements, it has consumed white space (a keepalive) and has nothing more
// buffered, instead of blocking for the next element. A server that
// releases the parser's buffers while its connections are idle (Release)
// needs this, or a keepalive would leave the buffer held until the next
// stanza.
func (p *Parser) YieldOnIdle(on bool) { p.yield = on }

const (
	stateHeader  = iota // before the stream header
	stateStream         // between top-level elements
	stateClosing        // the header was self-closing: the stream is over
)

// NewParser returns a parser reading a stream from r.
func NewParser(r io.Reader, lim Limits) *Parser {
	p := &Parser{br: bufio.NewReaderSize(r, readBufferSize), src: r, lim: lim.withDefaults()}
	p.restart()
	return p
}

// Reset starts over on a new stream, as after STARTTLS or SASL success.
// When r is nil or the reader already in use, bytes already buffered are
// kept, since a peer may send its new stream header right after the
// element that ended the old stream. Given a different reader (a TLS
// connection over the old one), buffered bytes are dropped: they were
// sent before the switch and must not be taken as sent after it.
func (p *Parser) Reset(r io.Reader) {
	if p.br == nil {
		if r != nil {
			p.src = r
		}
		p.acquire()
	}
	if r == nil || sameReader(r, p.src) {
		p.br.Discard(p.pos)
	} else {
		p.br.Reset(r)
		p.src = r
	}
	p.buf, p.pos, p.off = nil, 0, 0
	p.restart()
}

// Buffered returns how many bytes have been read from the connection but
// not parsed yet. After <starttls/> it should be zero: anything else was
// pipelined before the TLS handshake and must be treated as an attack.
func (p *Parser) Buffered() int {
	// buf is a prefix of br's buffered bytes.
	if p.br == nil {
		return 0
	}
	return p.br.Buffered() - p.pos
}

func sameReader(a, b io.Reader) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

func (p *Parser) restart() {
	p.mark = p.off + int64(p.pos)
	p.state = stateHeader
	p.err = nil
	p.outer = append(p.outer[:0], "", NSXML)
	p.outerPrefix = append(p.outerPrefix[:0], "", "")
	p.streamDef = 0
	p.closeTag = p.closeTag[:0]
	p.sc = scratch{}
}

// Next returns the next item of the stream: first the stream header, with
// header set, then each top-level element. The header element carries all
// the attributes written on it, namespace declarations included, so its
// "xmlns" attribute is the stream's content namespace. White space between
// elements is skipped.
func (p *Parser) Next() (el *Element, header bool, err error) {
	if p.err != nil {
		return nil, false, p.err
	}
	if p.br == nil {
		p.acquire()
	}
	switch p.state {
	case stateHeader:
		el, err = p.readHeader()
		header = true
	case stateClosing:
		err = ErrStreamClosed
	default:
		el, err = p.readItem()
		if err == errYield {
			return nil, false, nil
		}
	}
	if err != nil {
		p.err = err
		p.sc = scratch{}
		return nil, false, err
	}
	p.sc.trim()
	return el, header, nil
}

// streamErr is the error for bad input.
func streamErr(c StreamCondition, text string) error {
	return &StreamError{Condition: c, Text: text}
}

func notWellFormed(text string) error { return streamErr(NotWellFormed, text) }

func (p *Parser) tooBig() error {
	return streamErr(StreamPolicyViolation,
		"stanza larger than "+strconv.Itoa(p.lim.MaxStanzaBytes)+" bytes")
}

// readerPool and scratchPool hold the read buffers and working memory of
// parsers that Release them while their connection is idle, so that many
// idle connections share a few buffers instead of holding one each.
var (
	readerPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
	scratchPool sync.Pool // of *scratch
)

// Release gives the parser's read buffer and working memory back to shared
// pools when it is between top-level elements with nothing buffered; the
// next call to Next takes them again. It reports whether it released
// (false when bytes are pending, mid-stream-header or after an error).
// The caller should then wait for the connection to become readable
// without a buffer of its own, or the saving is lost at the next read.
func (p *Parser) Release() bool {
	if p.br == nil {
		return true
	}
	if p.err != nil || p.state != stateStream || p.Buffered() != 0 {
		return false
	}
	p.br.Discard(len(p.buf))
	p.off += int64(len(p.buf))
	p.buf, p.pos = nil, 0
	p.br.Reset(nil)
	readerPool.Put(p.br)
	p.br = nil
	if p.sc.arena != nil {
		sc := new(scratch)
		*sc = p.sc
		sc.reset()
		scratchPool.Put(sc)
		p.sc = scratch{}
	}
	return true
}

// acquire takes back what Release gave away.
func (p *Parser) acquire() {
	p.br = readerPool.Get().(*bufio.Reader)
	p.br.Reset(p.src)
	if v, ok := scratchPool.Get().(*scratch); ok {
		p.sc = *v
	}
}
