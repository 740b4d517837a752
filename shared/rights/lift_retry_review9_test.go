package rights_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// R9L-4. A lift whose telling fails is never told. The desk's Lift ends
// the restriction and tells the requester (Store.Lift, apply), and only
// then reads the person's restrictions (Store.SubjectRequests, a query of
// the by-subject index the lifts merge added) and tells the processors
// (Store.TellLift). When that read or the telling fails (DynamoDB
// throttled, a timeout: the operator answers an error), the team runs
// the lift again, as for any failed action; but the restriction is gone,
// so the second lift is refused ("no restriction of its own in place"),
// and nothing else tells the processors: the processor told of the
// restriction keeps the person restricted for good (GDPR Art. 19), and
// the team has no action that tells it. Nothing is to be lost when a
// dependency fails.
func TestReview9LiftWhoseTellingFailedIsNeverTold(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	proc := f.emailProcessor(t)
	addr := "lift-retried@example.com"
	id := f.file(t, `{"email":"`+addr+`","type":"restriction"}`)
	if st := f.verify(t, id); st != privacy.RequestCompleted {
		t.Fatalf("restriction: %q", st)
	}
	if d, err := f.store.Delivery(ctx, id, proc.ID); err != nil || d.State != privacy.RecipientEmailed {
		t.Fatalf("the processor told of the restriction: %+v %v", d, err)
	}
	flaky := &flakyStore{Store: f.store, fail: 1}
	desk := &rights.Desk{Store: flaky, Fulfiller: &rights.Fulfiller{Store: f.store, Policy: privacy.FixedPolicy("v1")},
		Now: f.clock.Now, NewID: uuid.NewString, By: "arn:aws:iam::1:user/dpo"}
	if err := desk.Lift(ctx, id, "The address is confirmed."); err == nil {
		t.Fatal("the lift did not fail with its read")
	}
	// The team runs the failed action again, once DynamoDB answers.
	f.clock.t = f.clock.t.Add(time.Minute)
	err := desk.Lift(ctx, id, "The address is confirmed.")
	d, derr := f.store.Delivery(ctx, id, proc.ID)
	if derr != nil {
		t.Fatal(derr)
	}
	if !d.Lifted || d.Identity != addr {
		t.Errorf("after a lift whose telling failed and the team's retry (%v), the processor told of the restriction is never told "+
			"of its lift: %+v", err, d)
	}
}

// flakyStore fails its first fail reads of the person's requests, as a
// throttled or timed-out DynamoDB does.
type flakyStore struct {
	*dynamo.Store
	fail int
}

func (s *flakyStore) SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]privacy.RightsRequest, error) {
	if s.fail > 0 {
		s.fail--
		return nil, errors.New("ProvisionedThroughputExceededException: throttled")
	}
	return s.Store.SubjectRequests(ctx, subject, since)
}
