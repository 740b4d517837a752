package sweep

import (
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// item is a stored item as the policy sees it, without a table.
type item struct {
	attrs   map[string]string
	times   map[string]time.Time
	subject privacy.SubjectID
}

func (it item) String(name string) string { return it.attrs[name] }
func (it item) Has(name string) bool {
	_, s := it.attrs[name]
	_, t := it.times[name]
	return s || t
}
func (it item) Time(name string) (time.Time, bool) { t, ok := it.times[name]; return t, ok }
func (it item) Subject() (privacy.SubjectID, bool) { return it.subject, it.subject != "" }

// The decision the sweep makes of one item, without DynamoDB: which
// classes' periods have ended, by kind, status, the attributes it carries
// and its clock.
func TestDue(t *testing.T) {
	now := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	s := &Sweeper{Classes: privacy.RetentionClasses()}
	r := privacy.Retention()
	names := func(cs []privacy.Class) map[string]bool {
		m := map[string]bool{}
		for _, c := range cs {
			m[c.Name] = true
		}
		return m
	}
	inquiry := func(lastActivity, created time.Time, meta bool) item {
		it := item{attrs: map[string]string{"kind": "inquiry"}, times: map[string]time.Time{"last_activity_at": lastActivity,
			"created_at": created}}
		if meta {
			it.attrs["meta"] = "{...}"
		}
		return it
	}
	day := 24 * time.Hour
	tests := []struct {
		name  string
		table privacy.Table
		item  item
		want  []string
	}{
		{"a fresh inquiry", privacy.TableSubjects, inquiry(now.Add(-day), now.Add(-day), true), nil},
		{"an inquiry's metadata after 90 days", privacy.TableSubjects, inquiry(now.Add(-day), now.Add(-90*day), true),
			[]string{r.RequestMeta.Name}},
		{"just inside 90 days", privacy.TableSubjects, inquiry(now.Add(-day), now.Add(-90*day+time.Second), true), nil},
		{"stripped already", privacy.TableSubjects, inquiry(now.Add(-day), now.Add(-100*day), false), nil},
		{"an inquiry 24 months after its last activity", privacy.TableSubjects, inquiry(now.Add(-730*day), now.Add(-800*day), false),
			[]string{r.Inquiry.Name}},
		{"the same item in another table", privacy.TableLedger, inquiry(now.Add(-730*day), now.Add(-800*day), false), nil},
		{"no clock", privacy.TableSubjects, item{attrs: map[string]string{"kind": "inquiry"}}, nil},
		{"a counter past its expires_at", privacy.TableOps, item{times: map[string]time.Time{"expires_at": now.Add(-time.Second)},
			attrs: map[string]string{"uses": "3"}}, []string{r.RateCounter.Name}},
		{"a counter before it", privacy.TableOps, item{times: map[string]time.Time{"expires_at": now.Add(time.Second)},
			attrs: map[string]string{"uses": "3"}}, nil},
		// A bounce or a complaint under its subject's key: due at once
		// until the sweep stamps it (grace_from), then its subscription
		// ended after the grace from the stamp, once; no other
		// suppression, nor one under another key.
		{"a bounce first seen", privacy.TableSuppression, item{attrs: map[string]string{"pk": "S#x", "sk": "bounced"},
			times: map[string]time.Time{"since": now.Add(-time.Minute)}}, []string{r.SuppressedSubscription.Name}},
		{"a bounce past the grace", privacy.TableSuppression, item{attrs: map[string]string{"pk": "S#x", "sk": "bounced"},
			times: map[string]time.Time{"since": now.Add(-8 * day), privacy.AttrGraceFrom: now.Add(-8 * day)}}, []string{r.SuppressedSubscription.Name}},
		{"a complaint past the grace", privacy.TableSuppression, item{attrs: map[string]string{"pk": "S#x", "sk": "complained"},
			times: map[string]time.Time{"since": now.Add(-8 * day), privacy.AttrGraceFrom: now.Add(-8 * day)}}, []string{r.SuppressedSubscription.Name}},
		{"a bounce inside it", privacy.TableSuppression, item{attrs: map[string]string{"pk": "S#x", "sk": "bounced"},
			times: map[string]time.Time{"since": now.Add(-6 * day), privacy.AttrGraceFrom: now.Add(-6 * day)}}, nil},
		{"a bounce since long ago, stamped inside it", privacy.TableSuppression, item{attrs: map[string]string{"pk": "S#x", "sk": "bounced"},
			times: map[string]time.Time{"since": now.Add(-60 * day), privacy.AttrGraceFrom: now.Add(-6 * day)}}, nil},
		{"a bounce checked", privacy.TableSuppression, item{attrs: map[string]string{"pk": "S#x", "sk": "bounced"},
			times: map[string]time.Time{"since": now.Add(-8 * day), privacy.AttrGraceFrom: now.Add(-8 * day),
				privacy.AttrSubscriptionChecked: now.Add(-day)}}, nil},
		{"a bounce under a request's key", privacy.TableSuppression, item{attrs: map[string]string{"pk": "R#x", "sk": "bounced", "subject": "x"},
			times: map[string]time.Time{"since": now.Add(-8 * day), privacy.AttrGraceFrom: now.Add(-8 * day)}}, nil},
		{"an unsubscribe's suppression", privacy.TableSuppression, item{attrs: map[string]string{"pk": "S#x", "sk": "unsubscribed"},
			times: map[string]time.Time{"since": now.Add(-800 * day)}}, nil},
		{"a bounce's sort key in another table", privacy.TableSubjects, item{attrs: map[string]string{"sk": "bounced"},
			times: map[string]time.Time{"since": now.Add(-8 * day)}}, nil},
	}
	for _, tt := range tests {
		got := names(s.due(tt.table, tt.item, now))
		if len(got) != len(tt.want) {
			t.Errorf("%s: due %v, want %v", tt.name, got, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("%s: due %v, want %v", tt.name, got, tt.want)
			}
		}
	}
}
