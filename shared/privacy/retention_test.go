package privacy_test

import (
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// attrs is a stored item as the policy sees it: strings and clocks.
type attrs map[string]any

func (a attrs) String(name string) string { s, _ := a[name].(string); return s }
func (a attrs) Has(name string) bool      { _, ok := a[name]; return ok }
func (a attrs) Time(name string) (time.Time, bool) {
	t, ok := a[name].(time.Time)
	return t, ok
}
func (a attrs) Subject() (privacy.SubjectID, bool) { return "", false }

// NextDue is the first end of a period among the classes that apply to an
// item: what an index of due items is keyed by (#18 item 1).
func TestNextDue(t *testing.T) {
	t0 := time.Date(2027, 1, 10, 8, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name  string
		table privacy.Table
		item  attrs
		want  time.Time // zero: no class applies
	}{
		{"inquiry with its metadata: the strip first", privacy.TableSubjects,
			attrs{"kind": "inquiry", "meta": "x", "created_at": t0, "last_activity_at": t0.Add(5 * day)}, t0.Add(90 * day)},
		{"inquiry stripped: its own period", privacy.TableSubjects,
			attrs{"kind": "inquiry", "created_at": t0, "last_activity_at": t0.Add(5 * day)}, t0.Add(735 * day)},
		{"pending signup", privacy.TableSubjects,
			attrs{"kind": "subscription", "status": "pending", "confirm_requested_at": t0}, t0.Add(30 * day)},
		{"confirmed subscription: kept while it lasts", privacy.TableSubjects,
			attrs{"kind": "subscription", "status": "confirmed", "confirm_requested_at": t0}, time.Time{}},
		// The proof of a consent outlives the ledger's 3 years while the
		// consent lasts; its withdrawal starts its period (#33).
		{"consent proof of a consent relied on: kept", privacy.TableSubjects,
			attrs{"kind": "consent_proof", "confirmed_at": t0, "signed_up_at": t0}, time.Time{}},
		{"consent proof after its withdrawal", privacy.TableSubjects,
			attrs{"kind": "consent_proof", "confirmed_at": t0, "withdrawn_at": t0.Add(400 * day)}, t0.Add((400 + 3*365) * day)},
		{"ledger entry with request metadata", privacy.TableLedger, attrs{"detail": "x", "detail.source_ip": "x", "at": t0}, t0.Add(90 * day)},
		// Or the sweep would strip it again on every run; the 3 years are
		// TTL's alone.
		{"ledger entry stripped of it (its detail stays)", privacy.TableLedger, attrs{"detail": "x", "at": t0}, time.Time{}},
		{"ledger entry without", privacy.TableLedger, attrs{"at": t0}, time.Time{}},
		{"rate counter: TTL's alone", privacy.TableOps, attrs{"uses": "1", "expires_at": t0}, time.Time{}},
		{"campaign record: its own expiry", privacy.TableOps, attrs{"campaign": "c1", "expires_at": t0}, t0},
		{"a kind no class knows", privacy.TableSubjects, attrs{"kind": "other", "created_at": t0}, time.Time{}},
		// A bounce or a complaint: its subscription ended after the
		// grace from the sweep's own stamp (grace_from; never its since,
		// which the internet-facing function writes); unstamped, due at
		// once (the sweep stamps it); once checked, no more. Under a key
		// naming no subject, or another reason: never.
		{"a bounce, first sight", privacy.TableSuppression, attrs{"pk": "S#x", "sk": "bounced", "since": t0}, time.Unix(0, 0)},
		{"a bounce stamped", privacy.TableSuppression, attrs{"pk": "S#x", "sk": "bounced", "since": t0.Add(-300 * day),
			privacy.AttrGraceFrom: t0}, t0.Add(privacy.SuppressedSubscriptionGraceDays * day)},
		{"a complaint stamped", privacy.TableSuppression, attrs{"pk": "S#x", "sk": "complained", "since": t0,
			privacy.AttrGraceFrom: t0}, t0.Add(privacy.SuppressedSubscriptionGraceDays * day)},
		{"a bounce checked", privacy.TableSuppression, attrs{"pk": "S#x", "sk": "bounced", "since": t0, privacy.AttrGraceFrom: t0,
			privacy.AttrSubscriptionChecked: t0}, time.Time{}},
		{"a bounce under a request's key", privacy.TableSuppression, attrs{"pk": "R#x", "sk": "bounced", "since": t0, "subject": "x"}, time.Time{}},
		{"a bounce under no subject", privacy.TableSuppression, attrs{"pk": "S#", "sk": "bounced", "since": t0}, time.Time{}},
		{"an unsubscribe's suppression", privacy.TableSuppression, attrs{"pk": "S#x", "sk": "unsubscribed", "since": t0}, time.Time{}},
		{"an erasure's", privacy.TableSuppression, attrs{"pk": "S#x", "sk": "erased", "since": t0}, time.Time{}},
		{"an objection's", privacy.TableSuppression, attrs{"pk": "S#x", "sk": "objected", "since": t0}, time.Time{}},
	} {
		got, ok := privacy.NextDue(privacy.RetentionClasses(), tc.table, tc.item)
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, ok, tc.want)
		}
	}
}

// What the sweep does with a due bounce or complaint: it ends a confirmed
// subscription under the same key confirmed no later than the
// suppression, and nothing else.
func TestEndingOf(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before, after := since.Add(-time.Hour), since.Add(time.Hour)
	for _, tc := range []struct {
		reason    string
		lifted    bool
		status    string
		confirmed time.Time
		want      privacy.SubscriptionEnding
	}{
		{privacy.SuppressBounced, false, privacy.StatusConfirmed, before, privacy.EndingEnd},
		{privacy.SuppressComplained, false, privacy.StatusConfirmed, before, privacy.EndingEnd},
		{privacy.SuppressComplained, false, privacy.StatusConfirmed, since, privacy.EndingEnd},
		// Confirmed before confirmations were timed: as before.
		{privacy.SuppressBounced, false, privacy.StatusConfirmed, time.Time{}, privacy.EndingEnd},
		// A consent given after the bounce or the complaint stands.
		{privacy.SuppressBounced, false, privacy.StatusConfirmed, after, privacy.EndingKept},
		{privacy.SuppressComplained, false, privacy.StatusConfirmed, after, privacy.EndingKept},
		// Nothing to end: none there (moved to a corrected address, or
		// deleted), one pending (deleted at 30 days as any), one ended.
		{privacy.SuppressBounced, false, "", before, privacy.EndingNone},
		{privacy.SuppressBounced, false, privacy.StatusPending, before, privacy.EndingNone},
		{privacy.SuppressComplained, false, privacy.StatusUnsubscribed, before, privacy.EndingNone},
		// A suppression lifted, or of another reason (whose own write
		// ends what it must, with its receipt), ends nothing.
		{privacy.SuppressBounced, true, privacy.StatusConfirmed, before, privacy.EndingNone},
		{privacy.SuppressUnsubscribed, false, privacy.StatusConfirmed, before, privacy.EndingNone},
		{privacy.SuppressErased, false, privacy.StatusConfirmed, before, privacy.EndingNone},
		{privacy.SuppressObjected, false, privacy.StatusConfirmed, before, privacy.EndingNone},
		{"", false, privacy.StatusConfirmed, before, privacy.EndingNone},
	} {
		if got := privacy.EndingOf(tc.reason, tc.lifted, tc.status, tc.confirmed, since); got != tc.want {
			t.Errorf("EndingOf(%q, lifted %v, %q, confirmed %v) = %v, want %v", tc.reason, tc.lifted, tc.status, tc.confirmed, got, tc.want)
		}
	}
}
