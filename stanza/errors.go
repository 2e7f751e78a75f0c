package stanza

import "fmt"

// StreamCondition is a stream error condition (RFC 6120 §4.9.3).
type StreamCondition string

// The stream error conditions of RFC 6120 §4.9.3, all of them.
const (
	BadFormat              StreamCondition = "bad-format"
	BadNamespacePrefix     StreamCondition = "bad-namespace-prefix"
	StreamConflict         StreamCondition = "conflict"
	ConnectionTimeout      StreamCondition = "connection-timeout"
	HostGone               StreamCondition = "host-gone"
	HostUnknown            StreamCondition = "host-unknown"
	ImproperAddressing     StreamCondition = "improper-addressing"
	StreamInternalError    StreamCondition = "internal-server-error"
	InvalidFrom            StreamCondition = "invalid-from"
	InvalidNamespace       StreamCondition = "invalid-namespace"
	InvalidXML             StreamCondition = "invalid-xml"
	StreamNotAuthorized    StreamCondition = "not-authorized"
	NotWellFormed          StreamCondition = "not-well-formed"
	StreamPolicyViolation  StreamCondition = "policy-violation"
	RemoteConnectionFailed StreamCondition = "remote-connection-failed"
	Reset                  StreamCondition = "reset"
	StreamResourceLimit    StreamCondition = "resource-constraint"
	RestrictedXML          StreamCondition = "restricted-xml"
	SeeOtherHost           StreamCondition = "see-other-host"
	SystemShutdown         StreamCondition = "system-shutdown"
	StreamUndefined        StreamCondition = "undefined-condition"
	UnsupportedEncoding    StreamCondition = "unsupported-encoding"
	UnsupportedFeature     StreamCondition = "unsupported-feature"
	UnsupportedStanzaType  StreamCondition = "unsupported-stanza-type"
	UnsupportedVersion     StreamCondition = "unsupported-version"
)

// StreamError is a stream-level error: the stream is closed after it is sent.
type StreamError struct {
	Condition StreamCondition
	Text      string
	// Other is the payload of see-other-host (the new host[:port]).
	Other string
	// App is an application-specific condition element, or nil.
	App *Element
}

func (e *StreamError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("stream error %s: %s", e.Condition, e.Text)
	}
	return "stream error " + string(e.Condition)
}

// NewStreamError returns a stream error with an explanatory text.
func NewStreamError(c StreamCondition, text string) *StreamError {
	return &StreamError{Condition: c, Text: text}
}

// Element renders the <stream:error/> element.
func (e *StreamError) Element() *Element {
	el := New("error", NSStream)
	cond := New(string(e.Condition), NSStreams)
	if e.Other != "" {
		cond.SetText(e.Other)
	}
	el.Append(cond)
	if e.App != nil {
		el.Append(e.App)
	}
	if e.Text != "" {
		el.Append(New("text", NSStreams, "xml:lang", "en").SetText(e.Text))
	}
	return el
}

// Condition is a stanza error condition (RFC 6120 §8.3.3).
type Condition string

// ErrorType is the type attribute of a stanza <error/>.
type ErrorType string

// Stanza error types (RFC 6120 §8.3.2).
const (
	Auth     ErrorType = "auth"
	Cancel   ErrorType = "cancel"
	Continue ErrorType = "continue"
	Modify   ErrorType = "modify"
	Wait     ErrorType = "wait"
)

// The stanza error conditions of RFC 6120 §8.3.3, all of them.
const (
	BadRequest            Condition = "bad-request"
	Conflict              Condition = "conflict"
	FeatureNotImplemented Condition = "feature-not-implemented"
	Forbidden             Condition = "forbidden"
	Gone                  Condition = "gone"
	InternalServerError   Condition = "internal-server-error"
	ItemNotFound          Condition = "item-not-found"
	JIDMalformed          Condition = "jid-malformed"
	NotAcceptable         Condition = "not-acceptable"
	NotAllowed            Condition = "not-allowed"
	NotAuthorized         Condition = "not-authorized"
	PolicyViolation       Condition = "policy-violation"
	RecipientUnavailable  Condition = "recipient-unavailable"
	Redirect              Condition = "redirect"
	RegistrationRequired  Condition = "registration-required"
	RemoteServerNotFound  Condition = "remote-server-not-found"
	RemoteServerTimeout   Condition = "remote-server-timeout"
	ResourceConstraint    Condition = "resource-constraint"
	ServiceUnavailable    Condition = "service-unavailable"
	SubscriptionRequired  Condition = "subscription-required"
	UndefinedCondition    Condition = "undefined-condition"
	UnexpectedRequest     Condition = "unexpected-request"
)

// defaultType is the error type the RFC's examples give each condition.
var defaultType = map[Condition]ErrorType{
	BadRequest:            Modify,
	Conflict:              Cancel,
	FeatureNotImplemented: Cancel,
	Forbidden:             Auth,
	Gone:                  Cancel,
	InternalServerError:   Cancel,
	ItemNotFound:          Cancel,
	JIDMalformed:          Modify,
	NotAcceptable:         Modify,
	NotAllowed:            Cancel,
	NotAuthorized:         Auth,
	PolicyViolation:       Modify,
	RecipientUnavailable:  Wait,
	Redirect:              Modify,
	RegistrationRequired:  Auth,
	RemoteServerNotFound:  Cancel,
	RemoteServerTimeout:   Wait,
	ResourceConstraint:    Wait,
	ServiceUnavailable:    Cancel,
	SubscriptionRequired:  Auth,
	UndefinedCondition:    Cancel,
	UnexpectedRequest:     Wait,
}

// Type returns the error type conventionally used with the condition.
func (c Condition) Type() ErrorType {
	if t, ok := defaultType[c]; ok {
		return t
	}
	return Cancel
}

// Error is a stanza error: returned to the sender, the stream goes on.
type Error struct {
	Condition Condition
	Type      ErrorType // empty means Condition.Type()
	Text      string
	By        string
	// App is an optional application-specific condition element.
	App *Element
}

func (e *Error) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("stanza error %s: %s", e.Condition, e.Text)
	}
	return "stanza error " + string(e.Condition)
}

// Errorf returns a stanza error with a formatted text.
func Errorf(c Condition, format string, args ...any) *Error {
	return &Error{Condition: c, Text: fmt.Sprintf(format, args...)}
}

// Element renders the <error/> child of an error stanza.
func (e *Error) Element(space string) *Element {
	t := e.Type
	if t == "" {
		t = e.Condition.Type()
	}
	el := New("error", space, "type", string(t))
	if e.By != "" {
		el.SetAttr("by", e.By)
	}
	el.Append(New(string(e.Condition), NSStanzas))
	if e.Text != "" {
		el.Append(New("text", NSStanzas, "xml:lang", "en").SetText(e.Text))
	}
	el.Append(e.App)
	return el
}

// ErrorReply builds the error response to st: to and from swapped,
// type='error', the same id, and the error element. For messages and
// presence the original payload is included, as RFC 6120 §8.3.1 allows,
// so the sender can tell which stanza failed; for iqs it is not.
func ErrorReply(st *Element, e *Error) *Element {
	r := New(st.Name, st.Space, "type", "error")
	if id := st.ID(); id != "" {
		r.SetAttr("id", id)
	}
	if from := st.From(); from != "" {
		r.SetAttr("to", from)
	}
	if to := st.To(); to != "" {
		r.SetAttr("from", to)
	}
	if st.Name != "iq" {
		for _, n := range st.Nodes {
			if n.Elem != nil && n.Elem.Name != "error" {
				r.Nodes = append(r.Nodes, n)
			}
		}
	}
	return r.Append(e.Element(st.Space))
}

// Result builds the empty type='result' response to an iq.
func Result(iq *Element, payload ...*Element) *Element {
	r := New("iq", iq.Space, "type", "result")
	if id := iq.ID(); id != "" {
		r.SetAttr("id", id)
	}
	if from := iq.From(); from != "" {
		r.SetAttr("to", from)
	}
	if to := iq.To(); to != "" {
		r.SetAttr("from", to)
	}
	return r.Append(payload...)
}
