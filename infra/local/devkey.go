package local

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// DevSigningKey returns the OpenDSR signing key of local development (PEM)
// and the path of its self-signed certificate for domain, both kept under
// dir and made on first use, so that make dev answers the OpenDSR routes
// and posts callbacks with no key step. Never a deployed stack's key.
func DevSigningKey(dir, domain string) (keyPEM []byte, certPath string, err error) {
	keyPath, certPath := filepath.Join(dir, "signing-key.pem"), filepath.Join(dir, "certificate.pem")
	keyPEM, err = os.ReadFile(keyPath)
	if err == nil {
		if _, err := os.Stat(certPath); err == nil {
			return keyPEM, certPath, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("dev signing key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", fmt.Errorf("dev signing key: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:  pkix.Name{CommonName: domain, Organization: []string{"privacykeeper local development"}},
		DNSNames: []string{domain}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", fmt.Errorf("dev signing certificate: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("dev signing key: %w", err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, "", fmt.Errorf("dev signing key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return nil, "", fmt.Errorf("dev signing certificate: %w", err)
	}
	return keyPEM, certPath, nil
}
