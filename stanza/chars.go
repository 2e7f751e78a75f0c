package stanza

import "unicode/utf8"

// Byte classes for the tokenizer's fast paths. Bytes from 0x80 up have no
// class: they start a multi-byte rune and always take the slow path.
const (
	cNameStart = 1 << iota // may start an XML name (':' is handled apart)
	cName                  // may continue an XML name
	cText                  // copied as is in character data
	cAttr                  // copied as is in an attribute value
	cSpace                 // XML white space: S ::= (#x20 | #x9 | #xD | #xA)+
)

var charClass = func() (t [256]uint8) {
	for c := 0x20; c < 0x80; c++ {
		t[c] |= cText | cAttr
	}
	for _, c := range []byte{'\t', '\n'} {
		t[c] |= cText
	}
	// Markup, references and the bytes that need normalizing or
	// checking leave the fast path.
	for _, c := range []byte{'<', '&', ']', '>'} {
		t[c] &^= cText
	}
	for _, c := range []byte{'<', '&', '\'', '"'} {
		t[c] &^= cAttr
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cNameStart | cName
		t[c-'a'+'A'] |= cNameStart | cName
	}
	t['_'] |= cNameStart | cName
	for c := '0'; c <= '9'; c++ {
		t[c] |= cName
	}
	t['-'] |= cName
	t['.'] |= cName
	for _, c := range []byte{' ', '\t', '\r', '\n'} {
		t[c] |= cSpace
	}
	return t
}()

func isSpace(c byte) bool { return charClass[c]&cSpace != 0 }

// isChar reports whether r is a Char of XML 1.0 (§2.2).
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= utf8.MaxRune
}

// isNameRune reports whether a non-ASCII rune may appear in an XML name,
// at its start when start is set (XML 1.0 fifth edition, §2.3). The older
// tables of the fourth edition, which encoding/xml uses, are a subset.
func isNameRune(r rune, start bool) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r == 0x200C, r == 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	case start:
		return false
	}
	return r == 0xB7 || r >= 0x300 && r <= 0x36F || r == 0x203F || r == 0x2040
}
