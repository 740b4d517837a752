// Package token makes and checks the signed tokens in email links. A token
// names a purpose, a subject (the keyed hash, never an address), an optional
// reference and an expiry, signed with HMAC-SHA256. It is opaque in a URL:
// base64url of a small binary payload and its signature. Checks compare the
// signature in constant time and refuse a token of another purpose.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Purpose scopes a token to one action.
type Purpose byte

// Purposes. Never renumber: issued tokens carry the number.
const (
	ConfirmSubscription Purpose = 1
	Unsubscribe         Purpose = 2
	Preferences         Purpose = 3
	VerifyRequest       Purpose = 4
	RequestStatus       Purpose = 5
	Export              Purpose = 6
	// AddTopic adds the topic Ref to a confirmed subscription: the double
	// opt-in of a new purpose a policy change offers.
	AddTopic Purpose = 7
	// ConfirmAddress confirms an address a request names besides the
	// person's (Ref "<request id>:agent" or "<request id>:new"); StopChange
	// lets the old address stop a correction of the address (Ref: the
	// request id).
	ConfirmAddress Purpose = 8
	StopChange     Purpose = 9
	// AnswerQuestion answers the team's question on a request (Ref
	// "<request id>:<the question's nonce>").
	AnswerQuestion Purpose = 10
	// ConfirmProcessor lets a processor told by email confirm a request
	// done (Ref: the request id; Subject: links.ProcessorSubject of the
	// request and the processor).
	ConfirmProcessor Purpose = 11
)

const version = 1

// ErrInvalid is returned for any token that does not check out: altered,
// truncated, expired, of another purpose or subject. The caller learns no
// more than that, and neither does an attacker.
var ErrInvalid = errors.New("invalid token")

// ErrExpired is returned for a genuine token of the right purpose whose
// time has passed (it also matches ErrInvalid): a caller that must answer
// "gone" rather than "invalid" (an export link after 7 days) can tell.
var ErrExpired = fmt.Errorf("%w: expired", ErrInvalid)

// Claims is what a token says.
type Claims struct {
	Purpose Purpose
	Subject privacy.SubjectID
	Ref     string // e.g. a request id or a signup id; at most 64 bytes
	Expires time.Time
}

// Signer signs and checks tokens with one key.
type Signer struct {
	key []byte
}

// New returns a Signer; the key must be at least 32 bytes.
func New(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("token key must be at least 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

const macLen = sha256.Size

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) (string, error) {
	subj, err := hex.DecodeString(string(c.Subject))
	if err != nil || len(subj) != sha256.Size {
		return "", errors.New("token subject must be a subject hash")
	}
	if len(c.Ref) > 64 {
		return "", errors.New("token ref longer than 64 bytes")
	}
	p := make([]byte, 0, 2+8+32+1+len(c.Ref)+macLen)
	p = append(p, version, byte(c.Purpose))
	p = binary.BigEndian.AppendUint64(p, uint64(c.Expires.Unix()))
	p = append(p, subj...)
	p = append(p, byte(len(c.Ref)))
	p = append(p, c.Ref...)
	p = append(p, s.mac(p)...)
	return base64.RawURLEncoding.EncodeToString(p), nil
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}

// Check verifies a token for one purpose at time now and returns its claims.
func (s *Signer) Check(tok string, want Purpose, now time.Time) (Claims, error) {
	if len(tok) > 256 {
		return Claims{}, ErrInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2+8+32+1+macLen {
		return Claims{}, ErrInvalid
	}
	payload, sig := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sig, s.mac(payload)) {
		return Claims{}, ErrInvalid
	}
	refLen := int(payload[42])
	if payload[0] != version || len(payload) != 43+refLen {
		return Claims{}, ErrInvalid
	}
	c := Claims{
		Purpose: Purpose(payload[1]),
		Expires: time.Unix(int64(binary.BigEndian.Uint64(payload[2:10])), 0).UTC(),
		Subject: privacy.SubjectID(hex.EncodeToString(payload[10:42])),
		Ref:     string(payload[43:]),
	}
	if c.Purpose != want {
		return Claims{}, ErrInvalid
	}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}
