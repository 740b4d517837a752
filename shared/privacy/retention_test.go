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
	} {
		got, ok := privacy.NextDue(privacy.RetentionClasses(), tc.table, tc.item)
		if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, ok, tc.want)
		}
	}
}
