// Package receipt issues the receipts a person keeps: at a confirmed
// double opt-in, at a withdrawal of consent, and at a completed erasure.
// A receipt is a JSON document in the shape of the Kantara Consent Receipt
// (v1.1, whose fields ISO/IEC TS 27560 carries on), signed as a compact JWS
// (ES256, RFC 7515/7518) with the receipt key; the key's public half is
// published as a JWK (RFC 7517) under its RFC 7638 thumbprint, so anyone
// can check a receipt against GET /.well-known/jwks.json.
//
// A receipt holds no more personal data than the email it travels in: the
// person's address, what they agreed to or what was erased, and when.
package receipt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Version is the receipt format: Kantara Consent Receipt v1.1.
const Version = "KI-CR-v1.1.0"

// What a receipt records.
const (
	ConsentGiven     = "consent_given"
	ConsentWithdrawn = "consent_withdrawn"
	ErasureCompleted = "erasure_completed"
)

// Receipt is the signed document. Its field names are the Kantara
// Consent Receipt's where it has one; the rest (event, ledgerEntry,
// consentText, erasure) are this system's, named as it names them.
type Receipt struct {
	Version          string       `json:"version"`
	ID               string       `json:"consentReceiptID"`
	Event            string       `json:"event"`
	IssuedAt         int64        `json:"iat"`
	Timestamp        int64        `json:"consentTimestamp"`
	Jurisdiction     string       `json:"jurisdiction"`
	CollectionMethod string       `json:"collectionMethod"`
	Language         string       `json:"language"`
	Principal        string       `json:"piiPrincipalId"`
	Controllers      []Controller `json:"piiControllers"`
	PolicyURL        string       `json:"policyUrl"`
	PolicyVersion    string       `json:"policyVersion"`
	Services         []Service    `json:"services"`
	Sensitive        bool         `json:"sensitive"`
	SPICat           []string     `json:"spiCat"`
	// Ledger names the ledger entry the receipt was issued from: the
	// system's own record of the same act, at the same instant.
	Ledger      LedgerEntry  `json:"ledgerEntry"`
	ConsentText *ConsentText `json:"consentText,omitempty"`
	Erasure     *Erasure     `json:"erasure,omitempty"`
}

// Controller is the company answering for the data (piiControllers).
type Controller struct {
	Name     string `json:"piiController"`
	OnBehalf bool   `json:"onBehalf"`
	Email    string `json:"email,omitempty"`
	URL      string `json:"piiControllerUrl,omitempty"`
}

// Service is one thing the person agreed to (a newsletter topic), with
// its purposes.
type Service struct {
	Service  string    `json:"service"`
	Purposes []Purpose `json:"purposes"`
}

// Purpose is one purpose of a service.
type Purpose struct {
	Purpose              string   `json:"purpose"`
	PurposeCategory      []string `json:"purposeCategory"`
	ConsentType          string   `json:"consentType"`
	LegalBasis           string   `json:"legalBasis"`
	PIICategory          []string `json:"piiCategory"`
	PrimaryPurpose       bool     `json:"primaryPurpose"`
	Termination          string   `json:"termination"`
	ThirdPartyDisclosure bool     `json:"thirdPartyDisclosure"`
}

// LedgerEntry names an entry of the person's ledger.
type LedgerEntry struct {
	Event string `json:"event"`
	At    string `json:"at"` // RFC 3339, to the nanosecond, as the ledger keeps it
	Ref   string `json:"ref,omitempty"`
}

// ConsentText is the sentence the person agreed to: its version, the
// SHA-256 of its exact text, and the text itself, so the receipt names the
// words without a lookup.
type ConsentText struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Text    string `json:"text"`
}

// Erasure is what a completed erasure removed and what it kept, and why.
type Erasure struct {
	RequestID  string   `json:"requestId"`
	ItemsFound *int     `json:"itemsErased,omitempty"`
	Erased     []string `json:"erased"`
	Kept       []Kept   `json:"kept"`
	// Recipients are the service providers told to erase it too (Art. 19).
	Recipients []Recipient `json:"recipientsTold,omitempty"`
}

// Kept is one thing an erasure keeps.
type Kept struct {
	What  string `json:"what"`
	Why   string `json:"why"`
	Until string `json:"until,omitempty"`
}

// Recipient is a service provider told of an erasure, and where it stood.
type Recipient struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// ID derives a receipt's id from what it records, so the receipt of one
// act has one id however often its email is built (a UUID, version 8,
// RFC 9562, from a SHA-256 of the parts).
func ID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // variant 10
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// LedgerTime is the form a receipt gives a ledger entry's instant.
func LedgerTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// JWK is a public key as RFC 7517 writes one (EC, P-256).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is a key set, as GET /.well-known/jwks.json serves it.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

var b64 = base64.RawURLEncoding

// Signer signs receipts with one key.
type Signer struct {
	key *ecdsa.PrivateKey
	jwk JWK
}

// seedInfo binds a derived key to its use: the same seed makes no other key.
const seedInfo = "privacykeeper/receipt-signing-key/v1"

// NewSigner reads the receipt key: a PEM EC P-256 private key (SEC 1 or
// PKCS #8), or a random seed of at least 32 characters from which the key
// is derived (HKDF-SHA256, then reduced into the curve's scalar range as
// FIPS 186-5 A.2.1 does), so that Secrets Manager's generated secret is a
// key without any step by hand.
func NewSigner(secret string) (*Signer, error) {
	secret = strings.TrimSpace(secret)
	var key *ecdsa.PrivateKey
	switch {
	case strings.HasPrefix(secret, "-----BEGIN"):
		k, err := parsePEM(secret)
		if err != nil {
			return nil, err
		}
		key = k
	case len(secret) >= 32:
		c, err := hkdf.Key(sha256.New, []byte(secret), nil, seedInfo, 40)
		if err != nil {
			return nil, fmt.Errorf("receipt key: %w", err)
		}
		n1 := new(big.Int).Sub(elliptic.P256().Params().N, big.NewInt(1))
		d := new(big.Int).Mod(new(big.Int).SetBytes(c), n1)
		d.Add(d, big.NewInt(1))
		if key, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(make([]byte, 32))); err != nil {
			return nil, fmt.Errorf("receipt key: %w", err)
		}
	default:
		return nil, errors.New("receipt key: neither a PEM EC key nor a seed of at least 32 characters")
	}
	jwk, err := PublicJWK(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, jwk: jwk}, nil
}

func parsePEM(s string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("receipt key: no PEM block")
	}
	var key *ecdsa.PrivateKey
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		key = k
	} else if k8, err8 := x509.ParsePKCS8PrivateKey(block.Bytes); err8 == nil {
		ek, ok := k8.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errors.New("receipt key: the PEM key is not an EC key")
		}
		key = ek
	} else {
		return nil, fmt.Errorf("receipt key: %w", err)
	}
	if key.Curve != elliptic.P256() {
		return nil, errors.New("receipt key: the EC key must be on P-256 (ES256)")
	}
	return key, nil
}

// PublicJWK is the JWK of an EC P-256 public key, its kid the RFC 7638
// thumbprint.
func PublicJWK(pub *ecdsa.PublicKey) (JWK, error) {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil || len(raw) != 65 || pub.Curve != elliptic.P256() {
		return JWK{}, errors.New("receipt key: not a P-256 public key")
	}
	j := JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:]), Use: "sig", Alg: "ES256"}
	// RFC 7638: the required members, in lexicographic order, no spaces.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`))
	j.Kid = b64.EncodeToString(sum[:])
	return j, nil
}

// JWK is the signer's public key.
func (s *Signer) JWK() JWK { return s.jwk }

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// Sign returns r as a compact JWS.
func (s *Signer) Sign(r Receipt) (string, error) {
	p, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("receipt: %w", err)
	}
	return s.SignPayload(Type, p)
}

// Type is a receipt's JWS type (its header's typ). The receipt key signs
// other documents too (a ledger day's root): a verifier names the type it
// expects, so one is never taken for the other.
const Type = "JWT"

// SignPayload returns payload as a compact ES256 JWS of type typ, signed
// with the receipt key (a ledger day's root is signed with it too).
func (s *Signer) SignPayload(typ string, payload []byte) (string, error) {
	h, err := json.Marshal(header{Alg: "ES256", Typ: typ, Kid: s.jwk.Kid})
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	rr, ss, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", fmt.Errorf("receipt: sign: %w", err)
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

// Why a receipt does not verify.
var (
	ErrMalformed  = errors.New("not a receipt: a receipt is three dot-separated Base64url parts (a compact JWS)")
	ErrUnknownKey = errors.New("the receipt names a key we never published")
	ErrSignature  = errors.New("the signature does not match: the receipt was changed or not signed by us")
	// ErrOtherType is ErrMalformed for a JWS of another type signed with
	// the same key (a ledger day's root): no receipt at all.
	ErrOtherType = fmt.Errorf("%w (a document of another kind)", ErrMalformed)
)

// Verify checks a compact JWS against the published keys and returns the
// receipt it carries and the key that signed it.
func Verify(jws string, keys []JWK) (Receipt, JWK, error) {
	pb, key, err := VerifyPayload(jws, Type, keys)
	if err != nil {
		return Receipt{}, JWK{}, err
	}
	var r Receipt
	if err := json.Unmarshal(pb, &r); err != nil {
		return Receipt{}, JWK{}, ErrMalformed
	}
	return r, key, nil
}

// VerifyPayload checks a compact ES256 JWS of type typ against the
// published keys and returns its payload and the key that signed it. A
// JWS of another type is refused (ErrOtherType) before its signature is
// checked.
func VerifyPayload(jws, typ string, keys []JWK) ([]byte, JWK, error) {
	parts := strings.Split(strings.TrimSpace(jws), ".")
	if len(parts) != 3 {
		return nil, JWK{}, ErrMalformed
	}
	strict := b64.Strict() // one encoding per receipt: no unused bits set
	hb, err1 := strict.DecodeString(parts[0])
	pb, err2 := strict.DecodeString(parts[1])
	sig, err3 := strict.DecodeString(parts[2])
	var h header
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil {
		return nil, JWK{}, ErrMalformed
	}
	if h.Alg != "ES256" {
		return nil, JWK{}, fmt.Errorf("%w (algorithm %q; receipts are ES256)", ErrSignature, h.Alg)
	}
	if h.Typ != typ {
		return nil, JWK{}, ErrOtherType
	}
	var key *JWK
	for i := range keys {
		if keys[i].Kid == h.Kid {
			key = &keys[i]
		}
	}
	if key == nil {
		return nil, JWK{}, ErrUnknownKey
	}
	pub, err := key.public()
	if err != nil {
		return nil, JWK{}, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if len(sig) != 64 || !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, JWK{}, ErrSignature
	}
	return pb, *key, nil
}

func (j JWK) public() (*ecdsa.PublicKey, error) {
	x, err1 := b64.DecodeString(j.X)
	y, err2 := b64.DecodeString(j.Y)
	if err1 != nil || err2 != nil || j.Kty != "EC" || j.Crv != "P-256" || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("published key %s is not an EC P-256 key", j.Kid)
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
}

// Published is the signer's key as it is published: published before it
// signs, and kept published.
func (s *Signer) Published(at time.Time) (privacy.PublishedKey, error) {
	b, err := json.Marshal(s.jwk)
	if err != nil {
		return privacy.PublishedKey{}, err
	}
	return privacy.PublishedKey{ID: s.jwk.Kid, JWK: string(b), PublishedAt: at}, nil
}

// KeySet reads the published keys as the JWKS anyone checks receipts with.
func KeySet(published []privacy.PublishedKey) (JWKS, error) {
	set := JWKS{Keys: make([]JWK, 0, len(published))}
	for _, p := range published {
		var j JWK
		if err := json.Unmarshal([]byte(p.JWK), &j); err != nil || j.Kid != p.ID {
			return JWKS{}, fmt.Errorf("published receipt key %s is not a JWK of that id", p.ID)
		}
		set.Keys = append(set.Keys, j)
	}
	return set, nil
}
