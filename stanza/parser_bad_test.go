package stanza

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const stream = `http://etherx.jabber.org/streams`

var badStreams = []struct {
	name string
	in   string
	lim  Limits
	want StreamCondition
	text string // substring of the error text, when set
}{
	// not-well-formed
	{"mismatched end tag", clientHeader + `<a><b></a></b>`, Limits{}, NotWellFormed, ""},
	{"end tag longer", clientHeader + `<a></ab>`, Limits{}, NotWellFormed, ""},
	{"end tag shorter", clientHeader + `<ab></a>`, Limits{}, NotWellFormed, ""},
	{"end tag other prefix", clientHeader + `<x:a xmlns:x='u' xmlns:y='u'></y:a>`, Limits{}, NotWellFormed, ""},
	{"wrong stream close", clientHeader + `</stream:streams>`, Limits{}, NotWellFormed, ""},
	{"unquoted attribute", clientHeader + `<a b=c/>`, Limits{}, NotWellFormed, ""},
	{"attribute without value", clientHeader + `<a b/>`, Limits{}, NotWellFormed, ""},
	{"attributes not separated", clientHeader + `<a b='1'c='2'/>`, Limits{}, NotWellFormed, ""},
	{"lt in attribute", clientHeader + `<a b='<'/>`, Limits{}, NotWellFormed, ""},
	{"bare ampersand", clientHeader + `<a>fish & chips</a>`, Limits{}, NotWellFormed, ""},
	{"reference without semicolon", clientHeader + `<a>&amp</a>`, Limits{}, NotWellFormed, ""},
	{"bad hex reference", clientHeader + `<a>&#xZZ;</a>`, Limits{}, NotWellFormed, ""},
	{"empty reference", clientHeader + `<a>&#;</a>`, Limits{}, NotWellFormed, ""},
	{"reference to NUL", clientHeader + `<a>&#0;</a>`, Limits{}, NotWellFormed, ""},
	{"reference to surrogate", clientHeader + `<a>&#xD800;</a>`, Limits{}, NotWellFormed, ""},
	{"reference too large", clientHeader + `<a>&#x110000;</a>`, Limits{}, NotWellFormed, ""},
	{"huge reference", clientHeader + `<a>&#99999999999999999999999;</a>`, Limits{}, NotWellFormed, ""},
	{"invalid UTF-8 in text", clientHeader + "<a>\xff</a>", Limits{}, NotWellFormed, "UTF-8"},
	{"truncated UTF-8 in text", clientHeader + "<a>\xc3</a>", Limits{}, NotWellFormed, "UTF-8"},
	{"surrogate in UTF-8", clientHeader + "<a>\xed\xa0\x80</a>", Limits{}, NotWellFormed, "UTF-8"},
	{"invalid UTF-8 in attribute", clientHeader + "<a b='\xc0\x80'/>", Limits{}, NotWellFormed, "UTF-8"},
	{"invalid UTF-8 in name", clientHeader + "<a\xff/>", Limits{}, NotWellFormed, ""},
	{"control character", clientHeader + "<a>\x01</a>", Limits{}, NotWellFormed, ""},
	{"NUL in attribute", clientHeader + "<a b='\x00'/>", Limits{}, NotWellFormed, ""},
	{"U+FFFE", clientHeader + "<a>\uFFFE</a>", Limits{}, NotWellFormed, ""},
	{"duplicate attribute", clientHeader + `<a b='1' b='2'/>`, Limits{}, NotWellFormed, "duplicate"},
	{"duplicate default namespace", clientHeader + `<a xmlns='x' xmlns='y'/>`, Limits{}, NotWellFormed, "duplicate"},
	{"duplicate after resolution", clientHeader + `<a xmlns:x='u' xmlns:y='u' x:b='1' y:b='2'/>`, Limits{}, NotWellFormed, "duplicate"},
	{"name starts with digit", clientHeader + `<1a/>`, Limits{}, NotWellFormed, ""},
	{"two colons", clientHeader + `<a:b:c xmlns:a='u'/>`, Limits{}, NotWellFormed, ""},
	{"leading colon", clientHeader + `<:a/>`, Limits{}, NotWellFormed, ""},
	{"trailing colon", clientHeader + `<a: />`, Limits{}, NotWellFormed, ""},
	{"local part starts with digit", clientHeader + `<a:1 xmlns:a='u'/>`, Limits{}, NotWellFormed, ""},
	{"space after lt", clientHeader + `< a/>`, Limits{}, NotWellFormed, ""},
	{"slash not followed by gt", clientHeader + `<a/ >`, Limits{}, NotWellFormed, ""},
	{"]]> in text", clientHeader + `<a>]]></a>`, Limits{}, NotWellFormed, "]]>"},
	{"text before header", `hello` + clientHeader, Limits{}, NotWellFormed, ""},
	{"end tag before header", `</stream:stream>`, Limits{}, NotWellFormed, ""},
	{"XML 1.1", `<?xml version='1.1'?>` + clientHeader, Limits{}, NotWellFormed, "1.0"},
	{"declaration without version", `<?xml encoding='UTF-8'?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"declaration attributes out of order", `<?xml encoding='UTF-8' version='1.0'?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"declaration with junk", `<?xml version='1.0' junk?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"bad standalone", `<?xml version='1.0' standalone='maybe'?>` + clientHeader, Limits{}, NotWellFormed, ""},
	{"bad <! markup", clientHeader + `<a><!-x></a>`, Limits{}, NotWellFormed, ""},
	{"bad CDATA opening", clientHeader + `<a><![CDAT[x]]></a>`, Limits{}, NotWellFormed, ""},
	{"reserved namespace declared", clientHeader + `<a xmlns:x='http://www.w3.org/2000/xmlns/'/>`, Limits{}, NotWellFormed, ""},

	// restricted-xml
	{"DTD before header", `<?xml version='1.0'?><!DOCTYPE stream>` + clientHeader, Limits{}, RestrictedXML, "DTD"},
	{"DTD in stanza", clientHeader + `<a><!DOCTYPE a></a>`, Limits{}, RestrictedXML, "DTD"},
	{"comment before header", `<!-- hi -->` + clientHeader, Limits{}, RestrictedXML, "comment"},
	{"comment between stanzas", clientHeader + `<!-- hi --><a/>`, Limits{}, RestrictedXML, "comment"},
	{"comment in stanza", clientHeader + `<a><!-- hi --></a>`, Limits{}, RestrictedXML, "comment"},
	{"processing instruction before header", `<?php echo 1 ?>` + clientHeader, Limits{}, RestrictedXML, "processing"},
	{"processing instruction in stanza", clientHeader + `<a><?pi x?></a>`, Limits{}, RestrictedXML, "processing"},
	{"processing instruction between stanzas", clientHeader + `<?pi x?>`, Limits{}, RestrictedXML, "processing"},
	{"XML declaration not first", ` <?xml version='1.0'?>` + clientHeader, Limits{}, RestrictedXML, ""},
	{"XML declaration twice", `<?xml version='1.0'?><?xml version='1.0'?>` + clientHeader, Limits{}, RestrictedXML, ""},
	{"entity in text", clientHeader + `<a>&nbsp;</a>`, Limits{}, RestrictedXML, "entity"},
	{"entity in attribute", clientHeader + `<a b='&foo;'/>`, Limits{}, RestrictedXML, "entity"},

	// policy-violation
	{"stanza too large", clientHeader + `<message><body>` + strings.Repeat("x", 200) + `</body></message>`, Limits{MaxStanzaBytes: 100}, StreamPolicyViolation, "100"},
	{"header too large", `<stream:stream xmlns:stream='` + stream + `' a='` + strings.Repeat("x", 200) + `'>`, Limits{MaxStanzaBytes: 100}, StreamPolicyViolation, "100"},
	{"too deep", clientHeader + strings.Repeat("<a>", 5), Limits{MaxDepth: 4}, StreamPolicyViolation, "4"},
	{"too many attributes", clientHeader + `<a b='1' c='2' d='3'/>`, Limits{MaxAttrs: 2}, StreamPolicyViolation, "2"},
	{"too many attributes counting declarations", clientHeader + `<a xmlns='x' xmlns:y='z' d='3'/>`, Limits{MaxAttrs: 2}, StreamPolicyViolation, "2"},

	// bad-namespace-prefix
	{"undeclared element prefix", clientHeader + `<x:a/>`, Limits{}, BadNamespacePrefix, ""},
	{"undeclared attribute prefix", clientHeader + `<a x:b='1'/>`, Limits{}, BadNamespacePrefix, ""},
	{"prefix out of scope", clientHeader + `<a><b xmlns:x='u'/><x:c/></a>`, Limits{}, BadNamespacePrefix, ""},
	{"header without stream prefix", `<stream:stream xmlns='jabber:client'>`, Limits{}, BadNamespacePrefix, ""},
	{"xmlns as element prefix", clientHeader + `<xmlns:a/>`, Limits{}, BadNamespacePrefix, ""},
	{"declaring xmlns", clientHeader + `<a xmlns:xmlns='u'/>`, Limits{}, BadNamespacePrefix, ""},
	{"rebinding xml", clientHeader + `<a xmlns:xml='u'/>`, Limits{}, BadNamespacePrefix, ""},
	{"undeclaring a prefix", clientHeader + `<a xmlns:x=''/>`, Limits{}, BadNamespacePrefix, ""},

	// invalid-namespace
	{"wrong streams namespace", `<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>`, Limits{}, InvalidNamespace, ""},
	{"header in no namespace", `<stream>`, Limits{}, InvalidNamespace, ""},

	// bad-format
	{"text between stanzas", clientHeader + `<a/>hello<b/>`, Limits{}, BadFormat, ""},
	{"reference between stanzas", clientHeader + `&#32;<b/>`, Limits{}, BadFormat, ""},
	{"CDATA between stanzas", clientHeader + `<![CDATA[ ]]><b/>`, Limits{}, BadFormat, ""},
	{"header not named stream", `<stream:features xmlns:stream='` + stream + `'>`, Limits{}, BadFormat, ""},

	// unsupported-encoding
	{"declared encoding", `<?xml version='1.0' encoding='ISO-8859-1'?>` + clientHeader, Limits{}, UnsupportedEncoding, ""},
	{"UTF-16 byte order mark", "\xFE\xFF\x00<", Limits{}, UnsupportedEncoding, ""},
	{"UTF-16LE byte order mark", "\xFF\xFE<\x00", Limits{}, UnsupportedEncoding, ""},
}

func TestParseBad(t *testing.T) {
	for _, tt := range badStreams {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				_, _, err := parseAll(r, tt.lim)
				var se *StreamError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want stream error %s", err, tt.want)
				}
				if se.Condition != tt.want || !strings.Contains(se.Text, tt.text) {
					t.Fatalf("got %v, want %s (%q)", se, tt.want, tt.text)
				}
			}
		})
	}
}
