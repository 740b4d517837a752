package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A mailbox token is the compact form of a token that is the local part
// of an email address (mailto:<token>@<domain>): RFC 5321 §4.5.3.1.1
// allows a local part of 64 octets, and the URL form of a token with its
// 32-byte subject is 100 characters. It is 40 bytes, written in lower-case
// base32 (RFC 4648) without padding: exactly MailboxLen characters, of
// letters and digits alone, read whatever their case (a relay or a client
// may change a local part's case).
//
//	3 bytes  expiry, in hours since the Unix epoch, rounded up
//	32 bytes subject hash
//	5 bytes  HMAC-SHA256 over a label, the purpose and the 35 bytes above,
//	         truncated to 40 bits
//
// It carries no reference. The purpose is not written but signed: a token
// checked for another purpose fails its MAC. The MAC is short: a forger
// who knows a subject hash (never shown in an email) must deliver about
// 2^39 emails, one guess each, to the receiving mail server to get one
// through; and what such a token does (stop marketing) is what a
// subscriber's own one click does. The expiry, to the hour, ends at most
// an hour later than asked.

// MailboxLen is the length of a mailbox token.
const MailboxLen = 64

const (
	mailboxMAC     = 5
	mailboxPayload = 3 + 32
	mailboxLabel   = "privacykeeper mailbox token v1"
)

var mailboxEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// SignMailbox returns the mailbox token for c, which must carry no Ref.
func (s *Signer) SignMailbox(c Claims) (string, error) {
	subj, err := hex.DecodeString(string(c.Subject))
	if err != nil || len(subj) != 32 {
		return "", errors.New("token subject must be a subject hash")
	}
	if c.Ref != "" {
		return "", errors.New("a mailbox token carries no ref")
	}
	hours := (c.Expires.Unix() + 3599) / 3600
	if hours <= 0 || hours >= 1<<24 {
		return "", errors.New("mailbox token expiry out of range")
	}
	p := make([]byte, 0, mailboxPayload+mailboxMAC)
	p = append(p, byte(hours>>16), byte(hours>>8), byte(hours))
	p = append(p, subj...)
	p = append(p, s.mailboxMAC(c.Purpose, p)...)
	return mailboxEncoding.EncodeToString(p), nil
}

func (s *Signer) mailboxMAC(p Purpose, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(mailboxLabel))
	m.Write([]byte{byte(p)})
	m.Write(payload)
	return m.Sum(nil)[:mailboxMAC]
}

// CheckMailbox verifies a mailbox token for one purpose at time now and
// returns its claims (no Ref). Its errors are those of Check.
func (s *Signer) CheckMailbox(local string, want Purpose, now time.Time) (Claims, error) {
	if len(local) != MailboxLen {
		return Claims{}, ErrInvalid
	}
	b, err := mailboxEncoding.DecodeString(strings.ToLower(local))
	if err != nil || len(b) != mailboxPayload+mailboxMAC {
		return Claims{}, ErrInvalid
	}
	payload, sig := b[:mailboxPayload], b[mailboxPayload:]
	if !hmac.Equal(sig, s.mailboxMAC(want, payload)) {
		return Claims{}, ErrInvalid
	}
	hours := int64(binary.BigEndian.Uint32(append([]byte{0}, payload[:3]...)))
	c := Claims{Purpose: want, Subject: privacy.SubjectID(hex.EncodeToString(payload[3:])),
		Expires: time.Unix(hours*3600, 0).UTC()}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}
