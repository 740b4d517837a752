package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The store writes only the transitions of the lifecycle
// (privacy.Steps): one it does not hold is refused before anything is
// written, whatever the request's status; one it holds is written with
// the condition on its starting statuses, so a request elsewhere is stale.
func TestTransitionFollowsTheLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	create := func(id string, status privacy.Status) {
		t.Helper()
		r := privacy.RightsRequest{ID: id, Subject: "subj-" + privacy.SubjectID(id), Type: privacy.RightAccess,
			Regulation: privacy.RegulationGDPR, Status: status, ReceivedAt: at, DueAt: at.AddDate(0, 1, 0)}
		if err := s.CreateRequest(ctx, r, privacy.Event{Subject: r.Subject, Name: privacy.EventRequestReceived, At: at, Ref: id}); err != nil {
			t.Fatal(err)
		}
	}
	id := "lc-" + time.Now().Format("150405.000000000")
	for _, tc := range []struct {
		name   string
		status privacy.Status // the request's, as stored
		t      privacy.Transition
		stale  bool // refused by the store's condition (privacy.ErrStale)
		bad    bool // refused before writing: not in the lifecycle
		want   privacy.Status
	}{
		{"deny an open request", privacy.RequestPending, privacy.Transition{Step: privacy.StepDeny, Status: privacy.RequestDenied}, false, false, privacy.RequestDenied},
		{"deny a closed request", privacy.RequestCompleted, privacy.Transition{Step: privacy.StepDeny, Status: privacy.RequestDenied}, true, false, privacy.RequestCompleted},
		{"a step from where it never starts", privacy.RequestCompleted,
			privacy.Transition{Step: privacy.StepDeny, From: []privacy.Status{privacy.RequestCompleted}, Status: privacy.RequestDenied}, false, true, privacy.RequestCompleted},
		{"a step to where it never goes", privacy.RequestPending, privacy.Transition{Step: privacy.StepAsk, Status: privacy.RequestCompleted}, false, true, privacy.RequestPending},
		{"no step", privacy.RequestPending, privacy.Transition{From: []privacy.Status{privacy.RequestPending}, Status: privacy.RequestCompleted}, false, true, privacy.RequestPending},
		{"extend keeps the status", privacy.RequestAwaitingReview, privacy.Transition{Step: privacy.StepExtend, Extend: at.AddDate(0, 2, 0)}, false, false, privacy.RequestAwaitingReview},
		{"extend cannot change it", privacy.RequestAwaitingReview, privacy.Transition{Step: privacy.StepExtend, Status: privacy.RequestCompleted}, false, true, privacy.RequestAwaitingReview},
	} {
		rid := id + "-" + tc.name
		create(rid, tc.status)
		err := s.Transition(ctx, rid, tc.t, privacy.Event{Subject: "subj-" + privacy.SubjectID(rid), Name: "x", At: at, Ref: rid})
		switch {
		case tc.stale && !errors.Is(err, privacy.ErrStale), tc.bad && (err == nil || errors.Is(err, privacy.ErrStale)),
			!tc.stale && !tc.bad && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		}
		r, err := s.Request(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.want {
			t.Errorf("%s: status %s, want %s", tc.name, r.Status, tc.want)
		}
	}
}
