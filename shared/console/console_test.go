package console

import (
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func TestFilter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	row := func(typ privacy.Right, status privacy.Status, due time.Time, overdue bool) operator.Row {
		return operator.Row{RightsRequest: privacy.RightsRequest{Type: typ, Status: status, DueAt: due}, Overdue: overdue}
	}
	late := row("erasure", privacy.RequestPending, now.AddDate(0, 0, -1), true)
	soon := row("access", privacy.RequestIdentityUnverified, now.AddDate(0, 0, 6), false)
	later := row("access", privacy.RequestAwaitingReview, now.AddDate(0, 0, 8), false)
	// Asked for more and overdue: the clock ran while it waited.
	asked := row("rectification", privacy.RequestWaitingForInformation, now.AddDate(0, 0, -2), true)
	for _, tc := range []struct {
		f    Filter
		want []bool // late, soon, later, asked
	}{
		{Filter{}, []bool{true, true, true, true}},
		{Filter{Overdue: true}, []bool{true, false, false, true}},
		{Filter{Soon: true}, []bool{false, true, false, false}},
		{Filter{Waiting: true}, []bool{false, true, false, true}},
		{Filter{Type: "access"}, []bool{false, true, true, false}},
		{Filter{Type: "access", Soon: true}, []bool{false, true, false, false}},
	} {
		for i, r := range []operator.Row{late, soon, later, asked} {
			if got := tc.f.keep(r, now); got != tc.want[i] {
				t.Errorf("%+v keeps row %d: %v, want %v", tc.f, i, got, tc.want[i])
			}
		}
	}
}
