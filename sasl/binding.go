package sasl

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// bindingData returns this connection's channel-binding data of type typ,
// or nil when the connection does not offer typ.
func bindingData(o Offer, typ string) ([]byte, error) {
	if !slices.Contains(o.ChannelBindings(), typ) {
		return nil, nil
	}
	switch typ {
	case CBTLSExporter:
		// RFC 9266 §2: label "EXPORTER-Channel-Binding", no context, 32 bytes.
		b, err := o.TLS.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: tls-exporter: %v", ErrTemporary, err)
		}
		return b, nil
	case CBTLSUnique:
		return o.TLS.TLSUnique, nil
	case CBTLSServerEndPt:
		h := endPointHash(o.ServerCert)()
		h.Write(o.ServerCert.Raw)
		return h.Sum(nil), nil
	}
	return nil, nil
}

// endPointHash is the hash tls-server-end-point applies to cert (RFC 5929
// §4.1): the one its signature uses, SHA-256 in place of MD5 and SHA-1;
// nil when the signature uses none or several (Ed25519), where the binding
// is undefined.
func endPointHash(cert *x509.Certificate) func() hash.Hash {
	if cert == nil {
		return nil
	}
	switch cert.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.DSAWithSHA256, x509.ECDSAWithSHA256:
		return sha256.New
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		return sha512.New384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		return sha512.New
	}
	return nil
}

// downgradeHash is XEP-0474's "h" attribute: the hash, with the
// exchange's own hash function, of the mechanisms we advertised, sorted
// and joined by 0x1E, then, if we announced channel-binding types
// (XEP-0440), 0x1F and those, sorted and joined the same way.
func downgradeHash(mechs, cbs []string, newHash func() hash.Hash) string {
	s := strings.Join(slices.Sorted(slices.Values(mechs)), "\x1e")
	if len(cbs) > 0 {
		s += "\x1f" + strings.Join(slices.Sorted(slices.Values(cbs)), "\x1e")
	}
	h := newHash()
	h.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
