package privacy

import (
	"slices"
	"testing"
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
	for _, s := range []string{RequestCompleted, RequestDenied, RequestCancelled, RequestExpired, RequestRedirected} {
		if slices.Contains(open, s) || slices.Contains(verified, s) {
			t.Errorf("finished %s counts as open", s)
		}
	}
}
