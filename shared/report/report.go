// Package report is the privacy team's account of the rights requests of
// a period, for the regulator and the DPO: how many of each type were
// received, closed and overdue, how long closing took, the extensions and
// their reasons, the denials by reason. It is computed from the requests
// themselves (their times, status and reasons, as each decision recorded
// them), never from counters kept on the side; it is pure.
package report

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Report is the figures of the period From..To (both days included).
type Report struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// AsOf is when it was computed: an open request is overdue as of then.
	AsOf time.Time `json:"as_of"`
	// Types are the figures per request type, and Total of every type.
	Types []Figures `json:"types"`
	Total Figures   `json:"total"`
	// Extensions are the requests received in the period whose deadline
	// was extended, each with its reason.
	Extensions []Extension `json:"extensions"`
	// Denials are the requests denied in the period, by reason, most
	// frequent first.
	Denials []Denial `json:"denials"`
}

// Figures are one type's: requests received in the period; closed in it
// (completed or denied, whenever received); overdue (received in the
// period and closed after their deadline, or still open past it); and the
// median and 95th percentile of the days the ones closed in the period
// took from receipt to close (nearest rank; 0 when none closed).
type Figures struct {
	Type           string  `json:"type"`
	Received       int     `json:"received"`
	Closed         int     `json:"closed"`
	Overdue        int     `json:"overdue"`
	MedianDays     float64 `json:"median_days_to_close"`
	P95Days        float64 `json:"p95_days_to_close"`
	daysToClose    []float64
	deniedByReason map[string]int
}

// Extension is one extended request: its reference, type, first and new
// deadline, and why.
type Extension struct {
	ID            string    `json:"id"`
	Type          string    `json:"type"`
	OriginalDueAt time.Time `json:"original_due_at"`
	DueAt         time.Time `json:"due_at"`
	Reason        string    `json:"reason"`
}

// Denial is how many requests were denied for one reason.
type Denial struct {
	Reason string `json:"reason"`
	N      int    `json:"n"`
}

// Period is the days from..to, both included, as instants: from's start
// to the last instant of to.
func Period(from, to time.Time) (time.Time, time.Time) {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	return day(from), day(to).AddDate(0, 0, 1).Add(-time.Nanosecond)
}

// Build computes the report of the days from..to out of reqs (every
// request that may fall in the period; the others are left out), as of
// now.
func Build(reqs []privacy.RightsRequest, from, to, now time.Time) Report {
	from, to = Period(from, to)
	r := Report{From: from, To: to, AsOf: now, Extensions: []Extension{}, Denials: []Denial{}}
	byType := map[string]*Figures{}
	total := &Figures{Type: "total", deniedByReason: map[string]int{}}
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(from) && !t.After(to) }
	closed := func(q privacy.RightsRequest) bool {
		return q.Status == privacy.RequestCompleted || q.Status == privacy.RequestDenied
	}
	for _, q := range reqs {
		f := byType[string(q.Type)]
		if f == nil {
			f = &Figures{Type: string(q.Type)}
			byType[string(q.Type)] = f
		}
		if in(q.ReceivedAt) {
			f.Received++
			total.Received++
			late := closed(q) && q.CompletedAt.After(q.DueAt) || privacy.Overdue(q, now)
			if late {
				f.Overdue++
				total.Overdue++
			}
			if q.ExtensionReason != "" {
				r.Extensions = append(r.Extensions, Extension{ID: q.ID, Type: string(q.Type), OriginalDueAt: q.OriginalDueAt, DueAt: q.DueAt,
					Reason: q.ExtensionReason})
			}
		}
		if closed(q) && in(q.CompletedAt) {
			days := q.CompletedAt.Sub(q.ReceivedAt).Hours() / 24
			f.Closed++
			total.Closed++
			f.daysToClose = append(f.daysToClose, days)
			total.daysToClose = append(total.daysToClose, days)
			if q.Status == privacy.RequestDenied {
				total.deniedByReason[q.Reason]++
			}
		}
	}
	for _, f := range byType {
		if f.Received+f.Closed > 0 {
			f.MedianDays, f.P95Days = percentile(f.daysToClose, 50), percentile(f.daysToClose, 95)
			r.Types = append(r.Types, *f)
		}
	}
	slices.SortFunc(r.Types, func(a, b Figures) int { return cmp.Compare(a.Type, b.Type) })
	total.MedianDays, total.P95Days = percentile(total.daysToClose, 50), percentile(total.daysToClose, 95)
	r.Total = *total
	for reason, n := range total.deniedByReason {
		r.Denials = append(r.Denials, Denial{Reason: reason, N: n})
	}
	slices.SortFunc(r.Denials, func(a, b Denial) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Reason, b.Reason)) })
	slices.SortFunc(r.Extensions, func(a, b Extension) int { return cmp.Compare(a.ID, b.ID) })
	return r
}

// percentile is the p-th percentile of days by nearest rank (the
// smallest value with at least p% of the values at or below it), rounded
// to a tenth of a day; 0 for none.
func percentile(days []float64, p float64) float64 {
	if len(days) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(days))
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return math.Round(s[max(rank, 1)-1]*10) / 10
}
