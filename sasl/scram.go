package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/parley-im/parley/storage"
)

// scramConv is the server side of one SCRAM exchange (RFC 5802 §5, the
// grammar in §7) over stored keys. It is ours rather than a library's
// because what it must decide is policy: which GS2 flags a connection
// accepts (docs/authentication.md), a proof checked before an unknown
// channel-binding type is refused, and the XEP-0474 attribute in the
// server-first-message, which the client's proof covers.
type scramConv struct {
	offer  Offer
	hash   func() hash.Hash
	plus   bool // a -PLUS mechanism
	lookup Lookup
	pick   func(storage.Account) storage.Credentials
	step   int

	gs2       string // the GS2 header as the client sent it
	cbType    string // from "p=", or "" for "n" and "y"
	cbData    []byte // this connection's binding of cbType; nil if it has none
	user      string
	cred      storage.Credentials
	nonce     string // the client's and ours
	authFirst string // client-first-message-bare "," server-first-message
}

func (c *scramConv) Step(in []byte) ([]byte, bool, error) {
	c.step++
	switch c.step {
	case 1:
		out, err := c.first(string(in))
		return out, false, err
	case 2:
		out, err := c.final(string(in))
		return out, err == nil, err
	}
	return nil, false, fmt.Errorf("%w: the exchange is over", ErrMalformed)
}

func (c *scramConv) Username() string { return c.user }

// first reads the client-first-message,
//
//	gs2-cbind-flag "," [authzid] "," [reserved-mext ","] username "," nonce ["," extensions]
//
// and answers the server-first-message.
func (c *scramConv) first(msg string) ([]byte, error) {
	flag, rest, ok1 := strings.Cut(msg, ",")
	authz, bare, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: no GS2 header", ErrMalformed)
	}
	c.gs2 = flag + "," + authz + ","
	if err := c.checkFlag(flag); err != nil {
		return nil, err
	}
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if a, ok = decodeName(a, ok); !ok {
			return nil, fmt.Errorf("%w: bad authzid", ErrMalformed)
		}
		authz = a
	}
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || strings.HasPrefix(attrs[0], "m=") {
		// An "m" attribute is a mandatory extension we do not know.
		return nil, fmt.Errorf("%w: expected n= and r=", ErrMalformed)
	}
	u, ok := strings.CutPrefix(attrs[0], "n=")
	user, ok := decodeName(u, ok)
	cnonce, ok2 := strings.CutPrefix(attrs[1], "r=")
	if !ok || user == "" || !ok2 || !printable(cnonce) {
		return nil, fmt.Errorf("%w: bad username or nonce", ErrMalformed)
	}
	if !authzOK(authz, user) {
		return nil, fmt.Errorf("%w: may not act as %q", ErrNotAuthorized, authz)
	}
	a, err := c.lookup(user)
	switch {
	case errors.Is(err, storage.ErrNotFound) || errors.Is(err, ErrNotAuthorized):
		return nil, ErrNotAuthorized
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	c.cred = c.pick(a)
	if len(c.cred.StoredKey) == 0 || len(c.cred.StoredKey) != c.hash().Size() {
		return nil, ErrNotAuthorized
	}
	ours := make([]byte, 18)
	if _, err := rand.Read(ours); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	c.user = user
	c.nonce = cnonce + base64.RawStdEncoding.EncodeToString(ours)
	// XEP-0474: the hash of what we advertised, under the client's proof.
	server := "r=" + c.nonce +
		",s=" + base64.StdEncoding.EncodeToString(c.cred.Salt) +
		",i=" + strconv.Itoa(c.cred.Iterations) +
		",h=" + downgradeHash(c.offer.Mechanisms(), c.offer.ChannelBindings(), c.hash)
	c.authFirst = bare + "," + server
	return []byte(server), nil
}

// checkFlag applies the connection's rules to the GS2 channel-binding flag
// (RFC 5802 §6, XEP-0440; docs/authentication.md).
func (c *scramConv) checkFlag(flag string) error {
	offered := len(c.offer.ChannelBindings()) > 0
	typ, p := strings.CutPrefix(flag, "p=")
	switch {
	case p && c.plus:
		if !validCBName(typ) {
			return fmt.Errorf("%w: bad channel binding name", ErrMalformed)
		}
		c.cbType = typ
		data, err := bindingData(c.offer, typ)
		if err != nil {
			return err
		}
		c.cbData = data
		if data == nil && c.offer.NoCommonBinding {
			// This client has shown it already; no need to prove it again.
			return fmt.Errorf("%w: %q", ErrBinding, typ)
		}
		// A type we do not offer is refused once the proof has been
		// checked (final), so that the refusal can excuse a later "y".
		return nil
	case p:
		return fmt.Errorf("%w: channel binding requested with a mechanism without -PLUS", ErrMalformed)
	case flag != "n" && flag != "y":
		return fmt.Errorf("%w: bad GS2 flag", ErrMalformed)
	case c.plus:
		return fmt.Errorf("%w: a -PLUS mechanism without channel binding", ErrMalformed)
	case flag == "y" && offered && !c.offer.NoCommonBinding:
		return fmt.Errorf("%w: SCRAM-*-PLUS was offered on this connection", ErrDowngrade)
	}
	return nil
}

// final checks the client-final-message,
//
//	"c=" base64(gs2-header [cbind-data]) "," nonce ["," extensions] "," proof
//
// and answers the server-final-message.
func (c *scramConv) final(msg string) ([]byte, error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, fmt.Errorf("%w: no proof", ErrMalformed)
	}
	withoutProof := msg[:i]
	attrs := strings.Split(withoutProof, ",")
	cb64, ok1 := strings.CutPrefix(attrs[0], "c=")
	var nonce string
	ok2 := len(attrs) >= 2
	if ok2 {
		nonce, ok2 = strings.CutPrefix(attrs[1], "r=")
	}
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: expected c= and r=", ErrMalformed)
	}
	cbind, err1 := base64.StdEncoding.DecodeString(cb64)
	proof, err2 := base64.StdEncoding.DecodeString(msg[i+3:])
	if err1 != nil || err2 != nil || len(proof) != c.hash().Size() {
		return nil, fmt.Errorf("%w: bad base64 or proof length", ErrMalformed)
	}
	if nonce != c.nonce {
		return nil, fmt.Errorf("%w: not the nonce of this exchange", ErrMalformed)
	}
	auth := []byte(c.authFirst + "," + withoutProof)
	clientKey := c.mac(c.cred.StoredKey, auth)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	h := c.hash()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), c.cred.StoredKey) != 1 {
		return nil, ErrNotAuthorized
	}
	if !strings.HasPrefix(string(cbind), c.gs2) {
		return nil, fmt.Errorf("%w: c= does not repeat the GS2 header", ErrNotAuthorized)
	}
	if c.cbType != "" && c.cbData == nil {
		return nil, fmt.Errorf("%w: %q", ErrBinding, c.cbType)
	}
	if !hmac.Equal(cbind[len(c.gs2):], c.cbData) {
		// Not the TLS session we see: someone is in the middle.
		return nil, fmt.Errorf("%w: channel bindings do not match", ErrNotAuthorized)
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(c.mac(c.cred.ServerKey, auth))), nil
}

func (c *scramConv) mac(key, msg []byte) []byte {
	m := hmac.New(c.hash, key)
	m.Write(msg)
	return m.Sum(nil)
}

// decodeName undoes saslname's escaping of "," and "=" (RFC 5802 §5.1);
// ok false (from the caller, or a stray "=") passes through as false.
func decodeName(s string, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	if !strings.Contains(s, "=") {
		return s, !strings.Contains(s, ",")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// printable is RFC 5802's nonce alphabet: printable ASCII but ",".
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return s != ""
}

// validCBName is RFC 5802's cb-name: letters, digits, "." and "-".
func validCBName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}
