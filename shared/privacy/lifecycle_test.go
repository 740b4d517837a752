package privacy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The groups agree: open is the team's and the waiting, with nothing in
// both; verified open is open less the unverified; a finished request is
// in none.
func TestStatusGroups(t *testing.T) {
	open, team, waiting, verified := OpenStatuses(), TeamStatuses(), WaitingStatuses(), VerifiedOpenStatuses()
	for _, s := range team {
		if slices.Contains(waiting, s) {
			t.Errorf("%s is both the team's and waiting", s)
		}
	}
	if len(open) != len(team)+len(waiting) {
		t.Errorf("open %v is not the team's %v and the waiting %v", open, team, waiting)
	}
	for _, s := range open {
		if got := slices.Contains(verified, s); got == (s == RequestIdentityUnverified) {
			t.Errorf("%s verified open: %v", s, got)
		}
	}
	for _, s := range []Status{RequestCompleted, RequestDenied, RequestCancelled, RequestExpired, RequestRedirected} {
		if slices.Contains(open, s) || slices.Contains(verified, s) || s.Open() || s.Waiting() {
			t.Errorf("finished %s counts as open", s)
		}
	}
}

// Every transition of the lifecycle, allowed and refused: each step from
// every status to every status (and to "", which keeps it). The table
// below is the lifecycle as docs/api.md and docs/operations.md tell it;
// every pair it does not list is refused.
func TestTransitions(t *testing.T) {
	allowed := map[Step][]string{
		StepVerify: {"identity_unverified>pending", "identity_unverified>awaiting_review"},
		StepClaim:  {"pending>in_progress", "in_progress>in_progress", "awaiting_review>in_progress"},
		StepFulfil: {"pending>completed", "pending>awaiting_review", "in_progress>completed", "in_progress>awaiting_review",
			"awaiting_review>completed", "awaiting_review>awaiting_review"},
		StepComplete: {"in_progress>completed", "awaiting_review>completed"},
		StepDeny: {"identity_unverified>denied", "pending>denied", "in_progress>denied", "awaiting_review>denied",
			"waiting_for_information>denied"},
		StepExtend: {"pending>", "in_progress>", "awaiting_review>", "waiting_for_information>"},
		StepAsk: {"pending>waiting_for_information", "in_progress>waiting_for_information",
			"awaiting_review>waiting_for_information"},
		StepAnswer: {"waiting_for_information>pending", "waiting_for_information>in_progress",
			"waiting_for_information>awaiting_review"},
		StepStop:   {"awaiting_review>cancelled", "waiting_for_information>cancelled"},
		StepCancel: {"pending>cancelled"},
		StepLift:   {"completed>"},
		StepExpire: {"identity_unverified>expired"},
	}
	var steps []Step
	for _, m := range Steps() {
		steps = append(steps, m.Step)
	}
	for s := range allowed {
		if !slices.Contains(steps, s) {
			t.Errorf("step %s is missing from Steps", s)
		}
	}
	to := append(Statuses(), "")
	n := 0
	for _, s := range append(steps, "unknown") {
		for _, from := range Statuses() {
			for _, st := range to {
				want := slices.Contains(allowed[s], string(from)+">"+string(st))
				if got := s.Allowed(from, st); got != want {
					t.Errorf("%s from %s to %q: allowed %v, want %v", s, from, st, got, want)
				}
				n++
			}
		}
		var from []string
		for _, f := range s.From() {
			from = append(from, string(f))
		}
		for _, pair := range allowed[s] {
			if f, _, _ := strings.Cut(pair, ">"); !slices.Contains(from, f) {
				t.Errorf("%s.From() %v lacks %s", s, from, f)
			}
		}
	}
	if want := (len(steps) + 1) * len(Statuses()) * len(to); n != want || len(Statuses()) != 10 {
		t.Errorf("checked %d pairs of %d statuses, want %d of 10", n, len(Statuses()), want)
	}
}

// Overdue is past the due date with the address proven: a request waiting
// on the team's question is (its clock runs), an unverified one is not
// (nobody can act on it), nor a finished one.
func TestOverdue(t *testing.T) {
	due := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	after, before := due.Add(time.Hour), due.Add(-time.Hour)
	for _, tc := range []struct {
		status Status
		due    time.Time
		now    time.Time
		want   bool
	}{
		{RequestPending, due, after, true},
		{RequestInProgress, due, after, true},
		{RequestAwaitingReview, due, after, true},
		{RequestWaitingForInformation, due, after, true},
		{RequestIdentityUnverified, due, after, false},
		{RequestCompleted, due, after, false},
		{RequestDenied, due, after, false},
		{RequestPending, due, before, false},
		{RequestPending, time.Time{}, after, false},
	} {
		if got := Overdue(RightsRequest{Status: tc.status, DueAt: tc.due}, tc.now); got != tc.want {
			t.Errorf("%s due %s at %s: overdue %v, want %v", tc.status, tc.due, tc.now, got, tc.want)
		}
	}
}
