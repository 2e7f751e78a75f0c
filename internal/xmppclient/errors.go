package xmppclient

import (
	"errors"

	"github.com/parley-im/parley/stanza"
)

// Sentinel errors. Errors from the server keep their XMPP types:
// *stanza.StreamError for stream errors, *SASLFailure for SASL failures,
// *stanza.Error for iq errors returned by Request.
var (
	ErrConfig       = errors.New("xmppclient: bad config")
	ErrProtocol     = errors.New("xmppclient: unexpected reply from server")
	ErrTLSRefused   = errors.New("xmppclient: server refused STARTTLS")
	ErrServerProof  = errors.New("xmppclient: server did not prove it knows the password")
	ErrChanBinding  = errors.New("xmppclient: channel binding not available")
	ErrBacklogFull  = errors.New("xmppclient: too many unclaimed elements")
	ErrClosed       = errors.New("xmppclient: client closed")
	ErrReaderActive = errors.New("xmppclient: the reader owns the reading side")
)

// SASLFailure is a <failure/> from the server's SASL layer (RFC 6120
// §6.5): Condition is its child's name, such as "not-authorized".
type SASLFailure struct {
	Condition string
	Text      string
}

func (f *SASLFailure) Error() string {
	if f.Text != "" {
		return "sasl failure " + f.Condition + ": " + f.Text
	}
	return "sasl failure " + f.Condition
}

// parseSASLFailure reads a SASL <failure/>.
func parseSASLFailure(el *stanza.Element) *SASLFailure {
	f := &SASLFailure{}
	for _, c := range el.Elements() {
		if c.Name == "text" {
			f.Text = c.Text()
		} else if f.Condition == "" {
			f.Condition = c.Name
		}
	}
	return f
}

// parseStreamError reads a <stream:error/>.
func parseStreamError(el *stanza.Element) *stanza.StreamError {
	e := &stanza.StreamError{}
	for _, c := range el.Elements() {
		if c.Space != stanza.NSStreams {
			continue
		}
		if c.Name == "text" {
			e.Text = c.Text()
		} else if e.Condition == "" {
			e.Condition = stanza.StreamCondition(c.Name)
			e.Other = c.Text()
		}
	}
	if e.Condition == "" {
		e.Condition = stanza.StreamUndefined
	}
	return e
}

// parseStanzaError reads the <error/> of a type='error' stanza; nil when
// el is not one.
func parseStanzaError(el *stanza.Element) *stanza.Error {
	if el.Type() != "error" {
		return nil
	}
	e := &stanza.Error{Condition: stanza.UndefinedCondition}
	x := el.Child("error", "")
	if x == nil {
		return e
	}
	e.Type = stanza.ErrorType(x.Attr("type"))
	e.By = x.Attr("by")
	cond := false
	for _, c := range x.Elements() {
		switch {
		case c.Space == stanza.NSStanzas && c.Name == "text":
			e.Text = c.Text()
		case c.Space == stanza.NSStanzas && !cond:
			e.Condition, cond = stanza.Condition(c.Name), true
		case c.Space != stanza.NSStanzas && e.App == nil:
			e.App = c
		}
	}
	return e
}
