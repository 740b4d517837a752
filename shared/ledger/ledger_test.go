package ledger_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// entry is a sealed-form entry of day at second sec, as the store writes one.
func entry(pk, day string, sec int, event, ref string, detail map[string]string) ledger.Entry {
	at := day + "T10:00:" + twoDigits(sec) + ".000000000Z"
	e := ledger.Entry{PK: pk, SK: at + "#" + event + "#" + ref, Day: day, ExpiresAt: now.AddDate(3, 0, 0).Unix(),
		Attrs: map[string]string{"pk": "S:" + pk, "event": "S:" + event, "at": "S:" + at, "ref": "S:" + ref, "day": "S:" + day}}
	if detail != nil {
		e.Detail, e.Salt = detail, ledger.NewSalt()
		e.DetailSum = ledger.DetailDigest(e.Salt, detail)
	}
	e.Hash = ledger.Hash(e)
	return e
}

// refiled is e filed on day (its time unchanged), hashed again.
func refiled(e ledger.Entry, day string) ledger.Entry {
	e.Attrs = maps.Clone(e.Attrs)
	e.Day, e.Attrs["day"] = day, "S:"+day
	e.Hash = ledger.Hash(e)
	return e
}

func twoDigits(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func signer(t *testing.T, seed string) *receipt.Signer {
	t.Helper()
	s, err := receipt.NewSigner(seed + strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// world is two sealed days and an open one, each with a few entries.
func world(t *testing.T, s *receipt.Signer) ([]ledger.Entry, []ledger.Sealed) {
	t.Helper()
	var entries []ledger.Entry
	var sealed []ledger.Sealed
	for _, day := range []string{"2026-12-04", "2026-12-05", "2026-12-06"} {
		es := []ledger.Entry{
			entry("S#alice", day, 1, "subscribe_requested", "sub-1", map[string]string{"topics": "news", "source_ip": "192.0.2.1"}),
			entry("S#bob", day, 2, "inquiry_received", "inq-1", nil),
			entry("S#alice", day, 3, "subscription_confirmed", "sub-1", map[string]string{"consent_text": "v3"}),
		}
		entries = append(entries, es...)
		if day == "2026-12-06" {
			continue // not sealed yet
		}
		d, err := ledger.Seal(s, day, es, now)
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, d)
	}
	return entries, sealed
}

func find(entries []ledger.Entry, day, event, pk string) int {
	return slices.IndexFunc(entries, func(e ledger.Entry) bool {
		return e.Day == day && e.Attrs["event"] == "S:"+event && e.PK == pk
	})
}

func TestVerifyNamesEachChange(t *testing.T) {
	s := signer(t, "one")
	keys := []receipt.JWK{s.JWK()}
	type change func(t *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed)
	cases := []struct {
		name   string
		change change
		want   []string // Finding.String() prefixes, in order
	}{
		{"untouched", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			return es, ss
		}, nil},
		{"an attribute changed, its hash left", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "inquiry_received", "S#bob")
			es[i].Attrs["event"] = "S:inquiry_withdrawn"
			return es, ss
		}, []string{"changed: day 2026-12-05 entry S#bob 2026-12-05T10:00:02.000000000Z#inquiry_received#inq-1: content changed"}},
		{"an attribute changed and its hash recomputed", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "inquiry_received", "S#bob")
			es[i].Attrs["ref"] = "S:inq-2"
			es[i].Hash = ledger.Hash(es[i])
			return es, ss
		}, []string{"changed: day 2026-12-05 entry S#bob 2026-12-05T10:00:02.000000000Z#inquiry_received#inq-1: its hash is not the sealed one"}},
		{"a detail changed", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-04", "subscription_confirmed", "S#alice")
			es[i].Detail = map[string]string{"consent_text": "v2"}
			return es, ss
		}, []string{"changed: day 2026-12-04 entry S#alice 2026-12-04T10:00:03.000000000Z#subscription_confirmed#sub-1: detail changed"}},
		{"a change on the open day", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-06", "inquiry_received", "S#bob")
			es[i].Attrs["ref"] = "S:inq-2"
			return es, ss
		}, []string{"changed: day 2026-12-06 entry S#bob"}},
		{"one deleted", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			return slices.Delete(es, find(es, "2026-12-04", "inquiry_received", "S#bob"), find(es, "2026-12-04", "inquiry_received", "S#bob")+1), ss
		}, []string{"deleted: day 2026-12-04 entry S#bob 2026-12-04T10:00:02.000000000Z#inquiry_received#inq-1"}},
		{"one expired by its TTL", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-04", "inquiry_received", "S#bob")
			// Sealed with an expiry already past: its absence is no finding.
			es[i].ExpiresAt = now.Add(-time.Hour).Unix()
			d, err := ledger.Seal(signer(t, "one"), "2026-12-04", slices.DeleteFunc(slices.Clone(es), func(e ledger.Entry) bool { return e.Day != "2026-12-04" }), now)
			if err != nil {
				t.Fatal(err)
			}
			ss[0] = d
			return slices.Delete(es, i, i+1), ss
		}, nil},
		{"one inserted with a hash of its own", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			return append(es, entry("S#mallory", "2026-12-05", 9, "subscription_confirmed", "sub-9", nil)), ss
		}, []string{"inserted: day 2026-12-05 entry S#mallory"}},
		{"one inserted without a hash on the open day", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			e := entry("S#mallory", "2026-12-06", 9, "subscription_confirmed", "sub-9", nil)
			e.Hash = ""
			return append(es, e), ss
		}, []string{"inserted: day 2026-12-06 entry S#mallory"}},
		{"a root signed by another key", func(t *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			d, err := ledger.Seal(signer(t, "two"), "2026-12-05", slices.DeleteFunc(slices.Clone(es), func(e ledger.Entry) bool { return e.Day != "2026-12-05" }), now)
			if err != nil {
				t.Fatal(err)
			}
			ss[1] = d
			return es, ss
		}, []string{"bad signature: day 2026-12-05: the receipt names a key we never published"}},
		{"a root's signature altered", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			jws := []byte(ss[1].JWS)
			jws[len(jws)-3] ^= 1
			ss[1].JWS = string(jws)
			return es, ss
		}, []string{"bad signature: day 2026-12-05"}},
		{"a kept leaf altered to match a change", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "inquiry_received", "S#bob")
			es[i].Attrs["ref"] = "S:inq-2"
			es[i].Hash = ledger.Hash(es[i])
			for j := range ss[1].Leaves {
				if ss[1].Leaves[j].PK == "S#bob" {
					ss[1].Leaves[j].Hash = es[i].Hash
				}
			}
			return es, ss
		}, []string{"bad leaves: day 2026-12-05"}},
		{"a day's root removed between sealed days", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			d, err := ledger.Seal(signer(t, "one"), "2026-12-06", slices.DeleteFunc(slices.Clone(es), func(e ledger.Entry) bool { return e.Day != "2026-12-06" }), now)
			if err != nil {
				t.Fatal(err)
			}
			return es, []ledger.Sealed{ss[0], d}
		}, []string{"unsealed: day 2026-12-05"}},
		{"a detail redacted by an erasure", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			for i := range es {
				if es[i].PK == "S#alice" {
					es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-9"
				}
			}
			return append(es, entry("S#alice", "2026-12-06", 30, "erased", "req-9", nil)), ss
		}, nil},
		{"an address moved by a correction: old entries redacted by it, copies new on the move's day", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			for i := range es {
				if es[i].PK == "S#alice" {
					c := entry("S#alice2", "2026-12-06", i, "copy", "c", map[string]string{"moved_from": es[i].SK})
					es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-7"
					es = append(es, c)
				}
			}
			return append(es, entry("S#alice", "2026-12-06", 40, "moved", "req-7", nil)), ss
		}, nil},
		{"a redaction naming another person's move", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-7"
			return append(es, entry("S#bob", "2026-12-06", 40, "moved", "req-7", nil)), ss
		}, []string{"bad redaction: day 2026-12-05 entry S#alice"}},
		{"a redaction naming a move before the entry", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-7"
			return append(es, entry("S#alice", "2026-12-04", 0, "moved", "req-7", nil)), ss
		}, []string{"inserted: day 2026-12-04 entry S#alice", "bad redaction: day 2026-12-05 entry S#alice"}},
		{"a redaction naming a request that only received a correction", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-7"
			return append(es, entry("S#alice", "2026-12-06", 40, "rectification_approved", "req-7", nil)), ss
		}, []string{"bad redaction: day 2026-12-05 entry S#alice"}},
		{"a copy inserted into a sealed day", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			c := entry("S#alice2", "2026-12-05", 50, "copy", "c", map[string]string{"moved_from": es[i].SK})
			return append(es, c), ss
		}, []string{"inserted: day 2026-12-05 entry S#alice2"}},
		{"a detail redacted with no erasure", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-9"
			return es, ss
		}, []string{"bad redaction: day 2026-12-05 entry S#alice"}},
		{"a detail removed, naming nothing", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			es[i].Detail, es[i].Salt = nil, ""
			return es, ss
		}, []string{"changed: day 2026-12-05 entry S#alice 2026-12-05T10:00:03.000000000Z#subscription_confirmed#sub-1: detail removed without an erasure"}},
		{"a consent backdated onto the open day (a role that may put entries, review 11)", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			return append(es, refiled(entry("S#carol", "2025-12-06", 5, "subscription_confirmed", "x", nil), "2026-12-06")), ss
		}, []string{"misdated: day 2026-12-06 entry S#carol"}},
		{"an inquiry's entry written a day after it, from the stream", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			return append(es, refiled(entry("S#carol", "2026-12-05", 5, "inquiry_received", "inq-1", nil), "2026-12-06")), ss
		}, nil},
		{"a registry change the mailer saw, written after midnight", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			return append(es, refiled(entry("SYSTEM#processors", "2026-12-05", 59, "processor_change_observed", "p1", nil), "2026-12-06")), ss
		}, nil},
		{"an inquiry's entry filed before its time", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			return append(es, refiled(entry("S#carol", "2026-12-07", 5, "inquiry_received", "inq-1", nil), "2026-12-06")), ss
		}, []string{"misdated: day 2026-12-06 entry S#carol"}},
		{"a move's copy: the original's key and time, filed on the move's day", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			c := es[i]
			c.PK, c.Attrs = "S#alice2", maps.Clone(c.Attrs)
			c.Attrs["pk"] = "S:S#alice2"
			c.Detail = map[string]string{"moved_from": es[i].SK}
			c.Salt = ledger.NewSalt()
			c.DetailSum = ledger.DetailDigest(c.Salt, c.Detail)
			es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-7"
			return append(es, refiled(c, "2026-12-06"), entry("S#alice", "2026-12-06", 40, "moved", "req-7", nil)), ss
		}, nil},
		{"a copy no move made", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
			c := es[i]
			c.PK, c.Attrs = "S#mallory", maps.Clone(c.Attrs)
			c.Attrs["pk"] = "S:S#mallory"
			return append(es, refiled(c, "2026-12-06")), ss
		}, []string{"misdated: day 2026-12-06 entry S#mallory"}},
		{"the request metadata stripped by the sweep", func(_ *testing.T, es []ledger.Entry, ss []ledger.Sealed) ([]ledger.Entry, []ledger.Sealed) {
			i := find(es, "2026-12-04", "subscribe_requested", "S#alice")
			delete(es[i].Detail, "source_ip")
			return es, ss
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, ss := world(t, s)
			es, ss = c.change(t, es, ss)
			r := ledger.Verify(es, ss, keys, "", now)
			var got []string
			for _, f := range r.Findings {
				got = append(got, f.String())
			}
			if len(got) != len(c.want) {
				t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("finding %d: %s, want %s...", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestVerifyFrom(t *testing.T) {
	s := signer(t, "one")
	es, ss := world(t, s)
	es[find(es, "2026-12-04", "inquiry_received", "S#bob")].Attrs["ref"] = "S:inq-2"
	if r := ledger.Verify(es, ss, []receipt.JWK{s.JWK()}, "2026-12-05", now); len(r.Findings) != 0 || r.Sealed != 1 || r.Entries != 6 {
		t.Errorf("from the 5th: %+v", r)
	}
	if r := ledger.Verify(es, ss, []receipt.JWK{s.JWK()}, "2026-12-04", now); len(r.Findings) != 1 {
		t.Errorf("from the 4th: %+v", r)
	}
}

// The hash covers every attribute but the seal's own, and the detail
// only through its salted digest.
func TestHashCovers(t *testing.T) {
	base := entry("S#a", "2026-12-04", 1, "subscribe_requested", "s", map[string]string{"topics": "news", "source_ip": "192.0.2.1"})
	cases := []struct {
		name   string
		change func(e *ledger.Entry)
		same   bool
	}{
		{"the key", func(e *ledger.Entry) { e.SK += "x" }, false},
		{"an attribute", func(e *ledger.Entry) { e.Attrs["purpose"] = "S:marketing" }, false},
		{"the detail's digest", func(e *ledger.Entry) { e.DetailSum = ledger.DetailDigest(e.Salt, map[string]string{"topics": "all"}) }, false},
		{"the TTL", func(e *ledger.Entry) { e.Attrs["expires_at"] = "N:1" }, true},
		{"the retention index", func(e *ledger.Entry) { e.Attrs["retention_at"] = "N:1" }, true},
		{"the detail itself (its digest stands for it)", func(e *ledger.Entry) { e.Detail = nil }, true},
	}
	for _, c := range cases {
		e := base
		e.Attrs = maps.Clone(base.Attrs)
		c.change(&e)
		if got := ledger.Hash(e) == base.Hash; got != c.same {
			t.Errorf("%s: same hash %v, want %v", c.name, got, c.same)
		}
	}
	// The request metadata is not in the digest; a salt makes it
	// unguessable from the digest.
	d := ledger.DetailDigest("salt", map[string]string{"topics": "news", "source_ip": "192.0.2.1"})
	if d != ledger.DetailDigest("salt", map[string]string{"topics": "news"}) || d == ledger.DetailDigest("other", map[string]string{"topics": "news"}) {
		t.Error("detail digest")
	}
}

// RFC 6962 2.1's tree: the empty root, a leaf's, and a split at the
// largest power of two below n (3 leaves: (0,1),2).
func TestRoot(t *testing.T) {
	empty := sha256.Sum256(nil)
	if got := ledger.Root(nil); got != hex.EncodeToString(empty[:]) {
		t.Errorf("empty: %s", got)
	}
	leaves := []ledger.Leaf{{PK: "a", SK: "1", Hash: "x"}, {PK: "b", SK: "1", Hash: "y"}, {PK: "c", SK: "1", Hash: "z"}}
	h := func(prefix byte, parts ...[]byte) []byte {
		b := []byte{prefix}
		for _, p := range parts {
			b = append(b, p...)
		}
		s := sha256.Sum256(b)
		return s[:]
	}
	leaf := func(l ledger.Leaf) []byte {
		b, _ := json.Marshal(l)
		return h(0, b)
	}
	want := h(1, h(1, leaf(leaves[0]), leaf(leaves[1])), leaf(leaves[2]))
	if got := ledger.Root(leaves); got != hex.EncodeToString(want) {
		t.Errorf("three leaves: %s, want %x", got, want)
	}
}

// A day's seal is a JWS a standard JOSE library verifies with the
// published key.
func TestSealVerifiesWithGoJose(t *testing.T) {
	s := signer(t, "one")
	es, _ := world(t, s)
	d, err := ledger.Seal(s, "2026-12-04", es[:3], now)
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(receipt.JWKS{Keys: []receipt.JWK{s.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(set, &jwks); err != nil {
		t.Fatal(err)
	}
	obj, err := jose.ParseSignedCompact(d.JWS, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := obj.Verify(jwks.Key(obj.Signatures[0].Header.KeyID)[0])
	if err != nil {
		t.Fatal(err)
	}
	var st ledger.Statement
	if err := json.Unmarshal(payload, &st); err != nil || st.Day != "2026-12-04" || st.Leaves != 3 || st.Root != ledger.Root(d.Leaves) {
		t.Errorf("statement %+v %v", st, err)
	}
}

func TestDaysToSeal(t *testing.T) {
	cases := []struct {
		last, through string
		max           int
		want          []string
	}{
		{"", "2026-12-06", 5, []string{"2026-12-06"}},
		{"2026-12-03", "2026-12-06", 5, []string{"2026-12-04", "2026-12-05", "2026-12-06"}},
		{"2026-12-03", "2026-12-06", 2, []string{"2026-12-04", "2026-12-05"}},
		{"2026-12-06", "2026-12-06", 5, nil},
		{"2026-12-31", "2027-01-01", 5, []string{"2027-01-01"}},
	}
	for _, c := range cases {
		if got := ledger.DaysToSeal(c.last, c.through, c.max); !slices.Equal(got, c.want) {
			t.Errorf("DaysToSeal(%q, %q, %d) = %v, want %v", c.last, c.through, c.max, got, c.want)
		}
	}
	if got := ledger.LastClosed(time.Date(2026, 12, 7, 0, 5, 0, 0, time.UTC), 10*time.Minute); got != "2026-12-05" {
		t.Errorf("five minutes after midnight, with ten minutes' grace: %s", got)
	}
}
