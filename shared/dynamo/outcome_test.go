package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A fulfilment's outcome is a step of the lifecycle (privacy.StepFulfil):
// written only while the request is the team's. A denial (or any other
// end) that crossed a running fulfilment stands; the outcome is stale.
func TestOutcomeFollowsTheLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	id := "oc-" + time.Now().Format("150405.000000000")
	for _, tc := range []struct {
		name   string
		status privacy.Status // the request's, as stored when the outcome comes
		deny   bool           // the team denies it first (the crossing)
		out    privacy.Status
		stale  bool
		want   privacy.Status
	}{
		{"fulfilled while pending", privacy.RequestPending, false, privacy.RequestCompleted, false, privacy.RequestCompleted},
		{"fulfilled while in progress", privacy.RequestInProgress, false, privacy.RequestCompleted, false, privacy.RequestCompleted},
		{"held for review", privacy.RequestPending, false, privacy.RequestAwaitingReview, false, privacy.RequestAwaitingReview},
		{"a denial crossed the fulfilment", privacy.RequestInProgress, true, privacy.RequestCompleted, true, privacy.RequestDenied},
		{"cancelled before", privacy.RequestCancelled, false, privacy.RequestCompleted, true, privacy.RequestCancelled},
		{"expired before", privacy.RequestExpired, false, privacy.RequestCompleted, true, privacy.RequestExpired},
	} {
		rid := id + "-" + tc.name
		sub := privacy.SubjectID("subj-" + rid)
		r := privacy.RightsRequest{ID: rid, Subject: sub, Type: privacy.RightErasure,
			Regulation: privacy.RegulationGDPR, Status: tc.status, ReceivedAt: at, DueAt: at.AddDate(0, 1, 0)}
		if err := s.CreateRequest(ctx, r, privacy.Event{Subject: sub, Name: privacy.EventRequestReceived, At: at, Ref: rid}); err != nil {
			t.Fatal(err)
		}
		if tc.deny {
			if err := s.Transition(ctx, rid, privacy.Transition{Step: privacy.StepDeny, Status: privacy.RequestDenied, Reason: "no"},
				privacy.Event{Subject: sub, Name: privacy.EventRequestDenied, At: at, Ref: rid}); err != nil {
				t.Fatal(err)
			}
		}
		err := s.SetOutcome(ctx, rid, privacy.Outcome{Status: tc.out, MailDue: privacy.Due(privacy.MailErased, "")},
			privacy.Event{Subject: sub, Name: privacy.EventErased, At: at, Ref: rid})
		if tc.stale != errors.Is(err, privacy.ErrStale) || !tc.stale && err != nil {
			t.Errorf("%s: %v, stale %v", tc.name, err, tc.stale)
		}
		got, err := s.Request(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tc.want {
			t.Errorf("%s: status %s, want %s", tc.name, got.Status, tc.want)
		}
	}
}
