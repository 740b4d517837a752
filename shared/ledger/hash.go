// Package ledger makes the ledger tamper-evident: each entry carries a
// hash over its own content (Hash), each closed day's entries are the
// leaves of a Merkle tree (Root) whose root is signed (Seal), and Verify
// recomputes both and names every entry changed, inserted or deleted and
// every root whose signature fails. It is pure: the store reads and
// writes the entries, the signer function seals, privacyctl verifies.
package ledger

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// Entry is one ledger entry as the seal sees it: its key, the
// attributes its hash covers (each as "<type>:<value>", the type as
// DynamoDB writes it, S, N or BOOL), its detail (nil once redacted), and
// what the store keeps beside them.
type Entry struct {
	PK, SK string
	Day    string            // the UTC day of its time, 2006-01-02
	Attrs  map[string]string // every attribute but Detail and the ones Excluded names
	Detail map[string]string // the entry's detail, nil when it has none or was redacted
	// Salt and DetailSum are written with the entry: DetailSum is the
	// digest of the salted detail (DetailDigest), which the hash covers
	// in the detail's place, so that a redaction that removes the
	// detail and its salt keeps the hash checkable and the digest
	// cannot be reversed by guessing a detail.
	Salt, DetailSum string
	Hash            string // the stored hash; "" on entries written before the seal
	RedactedBy      string // the erasure request whose redaction removed the detail
	ExpiresAt       int64  // epoch seconds (TTL)
}

// Attribute names the seal adds to an entry.
const (
	AttrHash       = "h"
	AttrDay        = "day"
	AttrSalt       = "salt"
	AttrDetailSum  = "detail_sha256"
	AttrRedactedBy = "redacted_by"
	AttrDetail     = "detail"
)

// Excluded are the attributes an entry's hash does not cover: the seal's
// own, the retention index's filing (the sweep and the backfill set
// them), the TTL (the expiry is signed in the day's leaf list instead),
// and a replay's mark.
func Excluded() []string {
	return []string{AttrHash, AttrSalt, AttrDetailSum, AttrRedactedBy, AttrDetail,
		"retention_pk", "retention_at", "expires_at", "replayed_at"}
}

// MetaKeys are the detail's request metadata (IP address, user agent),
// which the retention sweep strips after 90 days
// (privacy.Retention().LedgerRequestMeta): they are not part of the
// evidence the hash keeps, so stripping them breaks nothing.
func MetaKeys() []string { return []string{"source_ip", "user_agent"} }

// NewSalt is a fresh random salt for an entry's detail.
func NewSalt() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// DetailDigest is the digest of a detail under its salt, the request
// metadata left out; "" for no detail.
func DetailDigest(salt string, detail map[string]string) string {
	kept := make(map[string]string, len(detail))
	for k, v := range detail {
		if !slices.Contains(MetaKeys(), k) {
			kept[k] = v
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return digest("privacykeeper/ledger-detail/v1", salt, kept)
}

// Hash is an entry's content hash: its key, its attributes and its
// detail's digest (DetailSum).
func Hash(e Entry) string {
	attrs := make(map[string]string, len(e.Attrs))
	for k, v := range e.Attrs {
		if !slices.Contains(Excluded(), k) {
			attrs[k] = v
		}
	}
	return digest("privacykeeper/ledger-entry/v1", e.PK, e.SK, attrs, e.DetailSum)
}

// digest is SHA-256 over a domain name and the JSON of parts (maps
// marshal with sorted keys, so the form is canonical), in hex.
func digest(domain string, parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil { // strings and maps of strings always marshal
		panic(err)
	}
	sum := sha256.Sum256(append([]byte(domain+"\n"), b...))
	return hex.EncodeToString(sum[:])
}

// Day is the UTC day of a ledger time as the store writes it
// (2006-01-02T15:04:05.000000000Z).
func Day(at string) string {
	if len(at) < 10 {
		return ""
	}
	return at[:10]
}

// Check says what is wrong with one entry on its own, "" when nothing
// is: its stored hash against its content, and its detail against the
// digest.
func Check(e Entry) string {
	switch {
	case e.Hash == "":
		return "no hash"
	case e.Detail != nil && DetailDigest(e.Salt, e.Detail) != e.DetailSum:
		return "detail changed"
	case Hash(e) != e.Hash:
		return "content changed"
	case e.Detail == nil && e.DetailSum != "" && e.RedactedBy == "":
		return "detail removed without an erasure"
	}
	return ""
}
