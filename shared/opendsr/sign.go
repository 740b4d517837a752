package opendsr

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signer signs response and callback bodies: RSA PKCS#1 v1.5 over the
// SHA-256 digest of the exact body bytes, Base64 (standard encoding). The
// specification says "FIPS 186-4" without a scheme; this is what the
// reference processor and the known implementations use.
type Signer struct {
	key    *rsa.PrivateKey
	Domain string // the processor domain, sent in the …-Processor-Domain header
}

// NewSigner reads a PEM private key (PKCS#1 or PKCS#8 RSA, 2048 bits or more).
func NewSigner(pemKey []byte, domain string) (*Signer, error) {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return nil, errors.New("opendsr: no PEM block in the signing key")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = k
	} else if k8, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k8.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("opendsr: the signing key is not RSA")
		}
		key = rk
	} else {
		return nil, fmt.Errorf("opendsr: signing key: %w", err)
	}
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("opendsr: signing key of %d bits; 2048 or more needed", key.N.BitLen())
	}
	if domain == "" {
		return nil, errors.New("opendsr: the processor domain is required")
	}
	return &Signer{key: key, Domain: domain}, nil
}

// Sign returns the Base64 signature of body.
func (s *Signer) Sign(body []byte) (string, error) {
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("opendsr: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Public returns the key that verifies the signatures.
func (s *Signer) Public() *rsa.PublicKey { return &s.key.PublicKey }

// Verify checks a Base64 signature of body, as a controller does.
func Verify(pub *rsa.PublicKey, body []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("opendsr: signature is not Base64: %w", err)
	}
	sum := sha256.Sum256(body)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

// Headers are the signature headers of a signed body: both families on
// v1 routes (the v2 specification requires honouring v1's), the OpenDSR
// ones on v2.
func (s *Signer) Headers(v Version, body []byte) (map[string]string, error) {
	sig, err := s.Sign(body)
	if err != nil {
		return nil, err
	}
	h := map[string]string{"Content-Type": "application/json", "X-OpenDSR-Processor-Domain": s.Domain, "X-OpenDSR-Signature": sig}
	if v == V1 {
		h["X-OpenGDPR-Processor-Domain"], h["X-OpenGDPR-Signature"] = s.Domain, sig
	}
	return h, nil
}
