package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// loadOrCreateCert loads the configured certificate, or — when none is
// configured — the self-signed one in dataDir, generating it on first
// start. created reports whether a new certificate was written.
func loadOrCreateCert(certFile, keyFile, dataDir string, hosts []string) (cert tls.Certificate, path string, created bool, err error) {
	if certFile != "" {
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cert, "", false, fmt.Errorf("tls: loading %s and %s: %w", certFile, keyFile, err)
		}
		return cert, certFile, false, nil
	}
	dir := filepath.Join(dataDir, "tls")
	certFile, keyFile = filepath.Join(dir, "selfsigned.crt"), filepath.Join(dir, "selfsigned.key")
	if _, statErr := os.Stat(certFile); statErr == nil {
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err == nil {
			leaf, perr := x509.ParseCertificate(cert.Certificate[0])
			if perr == nil && coversHosts(leaf, hosts) && time.Now().Before(leaf.NotAfter) {
				return cert, certFile, false, nil
			}
		}
		// Unreadable, expired or for other hosts: make a new one.
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cert, "", false, fmt.Errorf("tls: %w", err)
	}
	certPEM, keyPEM, err := selfSigned(hosts)
	if err != nil {
		return cert, "", false, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return cert, "", false, fmt.Errorf("tls: %w", err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return cert, "", false, fmt.Errorf("tls: %w", err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return cert, certFile, true, err
}

func coversHosts(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// selfSigned makes an ECDSA P-256 certificate for the hosts, valid for ten
// years.
func selfSigned(hosts []string) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("tls: no hosts for the certificate")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"Parley self-signed"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h, "*."+h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
