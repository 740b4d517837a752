package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Leaf is one entry as a day's seal keeps it: its key, its hash, and its
// expiry, so that an entry the TTL removed is told from one deleted.
type Leaf struct {
	PK        string `json:"pk"`
	SK        string `json:"sk"`
	Hash      string `json:"h"`
	ExpiresAt int64  `json:"exp"`
}

// Leaves are a day's entries as leaves, in key order.
func Leaves(entries []Entry) []Leaf {
	out := make([]Leaf, 0, len(entries))
	for _, e := range entries {
		out = append(out, Leaf{PK: e.PK, SK: e.SK, Hash: e.Hash, ExpiresAt: e.ExpiresAt})
	}
	slices.SortFunc(out, func(a, b Leaf) int { return cmp.Or(cmp.Compare(a.PK, b.PK), cmp.Compare(a.SK, b.SK)) })
	return out
}

// TreeAlg names how Root builds the tree: RFC 6962's Merkle Tree Hash
// (section 2.1) over SHA-256, each leaf the JSON of its Leaf.
const TreeAlg = "rfc6962-sha256"

// Root is the Merkle Tree Hash of the leaves (RFC 6962 2.1: a leaf is
// SHA-256(0x00 || leaf), a node SHA-256(0x01 || left || right), split
// at the largest power of two below n; the empty tree is SHA-256 of
// nothing), in hex.
func Root(leaves []Leaf) string {
	hashes := make([][]byte, len(leaves))
	for i, l := range leaves {
		b, _ := json.Marshal(l) // strings and a number always marshal
		sum := sha256.Sum256(append([]byte{0}, b...))
		hashes[i] = sum[:]
	}
	return hex.EncodeToString(mth(hashes))
}

func mth(h [][]byte) []byte {
	switch len(h) {
	case 0:
		sum := sha256.Sum256(nil)
		return sum[:]
	case 1:
		return h[0]
	}
	k := 1
	for k*2 < len(h) {
		k *= 2
	}
	sum := sha256.Sum256(append(append([]byte{1}, mth(h[:k])...), mth(h[k:])...))
	return sum[:]
}

// Statement is what a day's seal signs (the JWS payload): no entry, no
// key, nobody's data, only the day, how many entries it had and their
// tree's root.
type Statement struct {
	Day      string `json:"day"`
	Leaves   int    `json:"leaves"`
	Root     string `json:"root"`
	Tree     string `json:"tree"`
	SignedAt string `json:"signed_at"`
}

// Sealed is a signed day: the compact JWS of its Statement and the
// leaves it was built from (kept in the roots table, never published).
type Sealed struct {
	Day    string
	JWS    string
	Leaves []Leaf
}

// Signer signs a payload as a compact JWS (receipt.Signer, with the
// published receipt key).
type Signer interface {
	SignPayload(typ string, payload []byte) (string, error)
}

// JWSType is the typ of a day's seal.
const JWSType = "privacykeeper-ledger-root+jwt"

// Seal signs a closed day's entries at now.
func Seal(s Signer, day string, entries []Entry, now time.Time) (Sealed, error) {
	leaves := Leaves(entries)
	st := Statement{Day: day, Leaves: len(leaves), Root: Root(leaves), Tree: TreeAlg, SignedAt: now.UTC().Format(time.RFC3339)}
	b, err := json.Marshal(st)
	if err != nil {
		return Sealed{}, err
	}
	jws, err := s.SignPayload(JWSType, b)
	if err != nil {
		return Sealed{}, fmt.Errorf("seal %s: %w", day, err)
	}
	return Sealed{Day: day, JWS: jws, Leaves: leaves}, nil
}

// LastClosed is the last day over at now, with a grace for the
// transactions in flight at midnight.
func LastClosed(now time.Time, grace time.Duration) string {
	return now.Add(-grace).UTC().AddDate(0, 0, -1).Format(time.DateOnly)
}

// DaysToSeal are the days after lastSealed (none sealed: last alone)
// through last, at most max of them (the rest the next run).
func DaysToSeal(lastSealed, last string, max int) []string {
	start := last
	if lastSealed != "" {
		t, err := time.Parse(time.DateOnly, lastSealed)
		if err != nil {
			return nil
		}
		start = t.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	var days []string
	for d := start; d <= last && len(days) < max; {
		days = append(days, d)
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil
		}
		d = t.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	return days
}
