package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// SubjectID is the pseudonymous key of a data subject: a keyed hash of the
// normalised email address. Every item of personal data is stored under it,
// so access and erasure are one query on one partition, and the suppression
// list can outlive the address itself.
type SubjectID string

// Hasher derives SubjectIDs with HMAC-SHA256 and a secret pepper, so that a
// copy of the tables alone cannot be matched against a list of addresses.
type Hasher struct {
	pepper []byte
}

// MinPepperBytes is the shortest pepper accepted.
const MinPepperBytes = 16

// NewHasher returns a Hasher keyed with pepper.
func NewHasher(pepper []byte) (*Hasher, error) {
	if len(pepper) < MinPepperBytes {
		return nil, errors.New("subject pepper must be at least 16 bytes")
	}
	return &Hasher{pepper: append([]byte(nil), pepper...)}, nil
}

// Subject returns the SubjectID of an address. The address is normalised
// first, so " Ann@Example.COM" and "ann@example.com" are the same subject.
func (h *Hasher) Subject(email string) SubjectID {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(NormalizeEmail(email)))
	return SubjectID(hex.EncodeToString(m.Sum(nil)))
}

// Pseudonym returns a keyed hash of any other identifier (an IP address for
// a rate limit, say), so counters can be kept without the value itself.
func (h *Hasher) Pseudonym(kind, value string) string {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(kind + "\x00" + value))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// Mailbox is the mailbox an address delivers to, as far as the domain's
// own rules say: a "+tag" sub-address is its mailbox (every large provider
// delivers "ann+x@" to "ann@"), and at Gmail dots in the local part and
// googlemail.com are nothing. Limits count by it, so that one inbox is not
// given a budget per sub-address. It is never the subject: the data of
// "ann+x@" is not "ann@"'s.
func Mailbox(email string) string {
	addr := NormalizeEmail(email)
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return addr
	}
	local, _, _ = strings.Cut(local, "+")
	if domain == "gmail.com" || domain == "googlemail.com" {
		local, domain = strings.ReplaceAll(local, ".", ""), "gmail.com"
	}
	return local + "@" + domain
}

// MailboxKey is the counter key of a per-address limit for email: the
// pseudonym of its Mailbox.
func (h *Hasher) MailboxKey(email string) string { return h.Pseudonym("mailbox", Mailbox(email)) }
