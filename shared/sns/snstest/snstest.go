// Package snstest signs SNS messages with a test certificate, the way SNS
// does, so that verification and the bounce handler can be tested without
// reaching AWS. It serves the certificate from an SNS-looking URL through a
// sns.CertSource; nothing here talks to the network.
package snstest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/sns"
)

// CertURL is where the test certificate "lives".
const CertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"

// TopicArn is the topic test notifications come from.
const TopicArn = "arn:aws:sns:us-east-1:000000000000:ses-feedback"

// Signer holds a test key and its certificate.
type Signer struct {
	key  *rsa.PrivateKey
	PEM  []byte
	urls map[string][]byte
}

// New makes a key and a self-signed certificate valid from a week ago
// until a day from now (a late retry signs with what was valid then).
func New(t testing.TB) *Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-7 * 24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &Signer{key: key, PEM: p, urls: map[string][]byte{CertURL: p}}
}

// Serve makes the certificate available at another URL too (to test that
// the host check comes first).
func (s *Signer) Serve(url string) { s.urls[url] = s.PEM }

// Cert implements sns.CertSource.
func (s *Signer) Cert(_ context.Context, url string) ([]byte, error) {
	if b, ok := s.urls[url]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("no certificate at %s", url)
}

// Sign fills the signature fields of m with SignatureVersion version.
func (s *Signer) Sign(t testing.TB, m *sns.Message, version string) {
	t.Helper()
	if m.SigningCertURL == "" {
		m.SigningCertURL = CertURL
	}
	m.SignatureVersion = version
	sts, err := sns.StringToSign(*m)
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if version == "1" {
		d := sha1.Sum([]byte(sts))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(sts))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
}

// Notification returns a signed SNS notification carrying body.
func (s *Signer) Notification(t testing.TB, body, version string) sns.Message {
	m := sns.Message{Type: "Notification", MessageID: "msg-" + fmt.Sprint(time.Now().UnixNano()),
		TopicArn: TopicArn, Message: body,
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	s.Sign(t, &m, version)
	return m
}
