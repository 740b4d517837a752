package ledger_test

import (
	"maps"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
)

// misdatedOn lists the misdated findings of r in partition pk.
func misdatedOn(r ledger.Report, pk string) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Kind == ledger.Misdated && f.PK == pk {
			out = append(out, f.String())
		}
	}
	return out
}

// Review 12 (hostile, MailerFunction's role): the misdated check lets a
// move's copy through by its sort key alone. movedOriginals keys the
// originals a move redacted by their sk, not by the partition the move
// went to (the "moved" entry names neither the new key nor is the copy
// checked against the original's time or event): once any person's
// address was corrected, any role that may put a ledger entry in any
// S#* partition (the mailer's ReceivedLedgerEntries: event and values
// unbounded) files an entry under that sk in anyone else's partition,
// with any event and any time, and verify names nothing. The mailer knows
// such sort keys: it computed them for the inquiry_received and
// request_received entries it writes itself (time#event#id).
// Fails today: no finding.
func TestHostileReview12CopyExceptionIsKeyedBySortKeyAlone(t *testing.T) {
	es, _ := world(t, signer(t, "r12"))
	// A genuine move of alice to alice2 on 2026-12-06 (as in
	// TestVerifyNamesEachChange's case of a move's copy).
	i := find(es, "2026-12-05", "subscription_confirmed", "S#alice")
	orig := es[i]
	c := orig
	c.PK, c.Attrs = "S#alice2", maps.Clone(c.Attrs)
	c.Attrs["pk"] = "S:S#alice2"
	c.Detail = map[string]string{"moved_from": orig.SK}
	c.Salt = ledger.NewSalt()
	c.DetailSum = ledger.DetailDigest(c.Salt, c.Detail)
	es[i].Detail, es[i].Salt, es[i].RedactedBy = nil, "", "req-7"
	es = append(es, refiled(c, "2026-12-06"), entry("S#alice", "2026-12-06", 40, "moved", "req-7", nil))

	// The forgery: mallory's partition (someone who never consented), the
	// moved original's sort key, a consent dated a year and a half before,
	// filed on the open day.
	forged := entry("S#mallory", "2025-06-01", 1, "subscription_confirmed", "forged", nil)
	forged.SK = orig.SK
	es = append(es, refiled(forged, "2026-12-06"))

	r := ledger.Verify(es, nil, nil, "", now)
	if got := misdatedOn(r, "S#mallory"); len(got) == 0 {
		t.Errorf("a consent dated 2025-06-01 filed on 2026-12-06 in S#mallory, under the sort key of alice's moved entry, is not named misdated: the move's exception matches the sort key in any partition, with any time and event (findings: %v)", r.Findings)
	}
	if got := misdatedOn(r, "S#alice2"); len(got) != 0 {
		t.Errorf("the genuine copy is named: %v", got)
	}
}

// Review 12 (hostile, MailerFunction's role): the stream events
// (inquiry_received, request_received, processor_change_observed) may be
// filed any time after their time: the mailer's role backdates a
// request_received (an erasure request of the person, say) by a year and
// a half into anyone's partition, and verify names nothing, though
// nothing writes one honestly that late but an erasure or a move that
// found it missing (and redacts or copies it the same day). Fails today.
func TestHostileReview12StreamEventBackdatedWithoutBound(t *testing.T) {
	es, _ := world(t, signer(t, "r12"))
	forged := entry("S#mallory", "2025-06-01", 1, "request_received", "req-forged", map[string]string{"type": "erasure", "regulation": "gdpr"})
	es = append(es, refiled(forged, "2026-12-06"))
	r := ledger.Verify(es, nil, nil, "", now)
	if got := misdatedOn(r, "S#mallory"); len(got) == 0 {
		t.Errorf("an erasure request dated 2025-06-01, filed on 2026-12-06 by a role that may put entries, is not named misdated (findings: %v)", r.Findings)
	}
}
