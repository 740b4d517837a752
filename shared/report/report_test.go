package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }

// A seeded set of requests with answers worked out by hand: November
// 2026, as of 7 December.
func TestBuild(t *testing.T) {
	req := func(id string, typ privacy.Right, status privacy.Status, received, due, closed time.Time) privacy.RightsRequest {
		return privacy.RightsRequest{ID: id, Type: typ, Status: status, ReceivedAt: received, DueAt: due, CompletedAt: closed}
	}
	denied := func(q privacy.RightsRequest, reason string) privacy.RightsRequest { q.Reason = reason; return q }
	extended := req("F", "erasure", privacy.RequestPending, day(11, 20), day(2, 20).AddDate(1, 0, 0), time.Time{})
	extended.OriginalDueAt, extended.ExtensionReason = day(12, 20), "complex: held in many systems"
	reqs := []privacy.RightsRequest{
		req("A", "access", privacy.RequestCompleted, day(11, 2), day(12, 2), day(11, 12).Add(12*time.Hour)), // 10.5 days
		req("B", "access", privacy.RequestCompleted, day(11, 3), day(12, 3), day(11, 23)),                   // 20 days
		req("C", "access", privacy.RequestPending, day(11, 5), day(12, 5), time.Time{}),                     // open, overdue on 7 Dec
		denied(req("D", "erasure", privacy.RequestDenied, day(11, 10), day(12, 10), day(11, 14)), "manifestly unfounded"),
		// Received before the period, denied in it: closed, not received.
		denied(req("E", "erasure", privacy.RequestDenied, day(10, 20), day(11, 20), day(11, 3)), "manifestly unfounded"),
		extended,
		// Closed after its deadline, and after the period: overdue, not closed.
		req("G", "rectification", privacy.RequestCompleted, day(11, 8), day(12, 1), day(12, 3)),
		req("H", "access", privacy.RequestPending, day(12, 2), day(1, 2), time.Time{}), // after the period
		denied(req("I", "objection", privacy.RequestDenied, day(11, 15), day(12, 15), day(11, 16)), "compelling legitimate grounds"),
		req("J", "access", privacy.RequestCompleted, day(10, 1), day(10, 31), day(10, 20)), // before it
		req("K", "erasure", privacy.RequestExpired, day(11, 25), day(12, 25), time.Time{}), // never verified: neither
		// A parent's (due in 7 days) not verified yet: received, and not
		// overdue (privacy.Overdue): nobody could answer it.
		req("L", "erasure", privacy.RequestIdentityUnverified, day(11, 28), day(12, 5), time.Time{}),
	}
	got := Build(reqs, day(11, 1), day(11, 30), day(12, 7))
	want := []Figures{
		{Type: "access", Received: 3, Closed: 2, Overdue: 1, MedianDays: 10.5, P95Days: 20},
		{Type: "erasure", Received: 4, Closed: 2, Overdue: 0, MedianDays: 4, P95Days: 14},
		{Type: "objection", Received: 1, Closed: 1, Overdue: 0, MedianDays: 1, P95Days: 1},
		{Type: "rectification", Received: 1, Closed: 0, Overdue: 1},
	}
	strip := func(fs ...Figures) []Figures {
		out := []Figures{}
		for _, f := range fs {
			f.daysToClose, f.deniedByReason = nil, nil
			out = append(out, f)
		}
		return out
	}
	if g := strip(got.Types...); !reflect.DeepEqual(g, want) {
		t.Errorf("types\n got %+v\nwant %+v", g, want)
	}
	// Days to close in the period: 1, 4, 10.5, 14, 20.
	if g, w := strip(got.Total)[0], (Figures{Type: "total", Received: 9, Closed: 5, Overdue: 2, MedianDays: 10.5, P95Days: 20}); !reflect.DeepEqual(g, w) {
		t.Errorf("total %+v, want %+v", g, w)
	}
	if w := []Extension{{ID: "F", Type: "erasure", OriginalDueAt: day(12, 20), DueAt: extended.DueAt, Reason: "complex: held in many systems"}}; !reflect.DeepEqual(got.Extensions, w) {
		t.Errorf("extensions %+v, want %+v", got.Extensions, w)
	}
	if w := []Denial{{"manifestly unfounded", 2}, {"compelling legitimate grounds", 1}}; !reflect.DeepEqual(got.Denials, w) {
		t.Errorf("denials %+v, want %+v", got.Denials, w)
	}
	if !got.From.Equal(day(11, 1)) || !got.To.Equal(day(12, 1).Add(-time.Nanosecond)) {
		t.Errorf("period %s..%s", got.From, got.To)
	}
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		days    []float64
		p, want float64
	}{
		{nil, 50, 0},
		{[]float64{3}, 95, 3},
		{[]float64{1, 2, 3, 4}, 50, 2},
		{[]float64{4, 3, 2, 1}, 95, 4},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 95, 19},
		{[]float64{2.34}, 50, 2.3},
	} {
		if got := percentile(tc.days, tc.p); got != tc.want {
			t.Errorf("p%v of %v = %v, want %v", tc.p, tc.days, got, tc.want)
		}
	}
}
