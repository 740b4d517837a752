package dynamo_test

// Review 8: retention and the request lifecycle after #32 (types), #35
// (processors) and #36 (cost). Each test here shows one defect: it fails
// on the code it was written against and passes once the defect is
// mended.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/deadlines"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
	"github.com/privacykeeper/privacykeeper/shared/ses"
	"github.com/privacykeeper/privacykeeper/shared/sweep"
)

// review8 is one test's store on tables of its own, with the client and
// the tables, and a sweep of them.
type review8 struct {
	s      *dynamo.Store
	db     *dynamodb.Client
	tables dynamo.Tables
}

func newReview8(t *testing.T) review8 {
	t.Helper()
	s, db, tables := newStoreDB(t)
	return review8{s: s, db: db, tables: tables}
}

// sweepAt runs one complete retention sweep of every table, its clock at
// at (DynamoDB Local's own TTL runs on the real clock, so nothing the
// sweep is to find is deleted by TTL first).
func (r review8) sweepAt(t *testing.T, at time.Time) sweep.Report {
	t.Helper()
	sw := &sweep.Sweeper{Store: &dynamo.Sweep{DB: r.db, Tables: map[privacy.Table]string{
		privacy.TableSubjects: r.tables.Subjects, privacy.TableLedger: r.tables.Ledger, privacy.TableRequests: r.tables.Requests,
		privacy.TableOps: r.tables.Ops, privacy.TablePlatformRequests: r.tables.PlatformRequests}},
		Classes: privacy.RetentionClasses(), Workers: 2, PageSize: 50,
		Now: func() time.Time { return at }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	rep, err := sw.Run(context.Background(), sweep.Options{Budget: time.Minute})
	if err != nil || !rep.Complete {
		t.Fatalf("sweep at %v: %+v %v", at, rep, err)
	}
	return rep
}

func (r review8) get(t *testing.T, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := r.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// confirmed signs subject up (signup id) and confirms it at at.
func (r review8) confirmed(t *testing.T, subject privacy.SubjectID, id string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	ok, err := r.s.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: "r8-" + id + "@example.com", Topics: []string{"newsletter"}},
		Subject: subject, ID: id, Cooldown: time.Minute, Event: privacy.Event{Subject: subject, Name: "subscribe_requested", At: at, Ref: id}})
	if err != nil || !ok {
		t.Fatalf("signup: %v %v", ok, err)
	}
	if ok, err := r.s.ConfirmSubscription(ctx, subject, id, privacy.Event{Subject: subject, Name: "subscription_confirmed", At: at, Ref: id,
		PolicyVersion: "v1"}); err != nil || !ok {
		t.Fatalf("confirm: %v %v", ok, err)
	}
}

func r8Subject(c string) privacy.SubjectID {
	return privacy.SubjectID(strings.Repeat(c, 52) + localtest.Unique())
}

// A subscription whose partition the team marked for client termination
// (client_terminated_at: deleted 12 months after, policy §7) is confirmed
// afterwards from its pending signup's link. The confirmation (#36)
// REMOVEs the item's retention index entry whatever else is due on it, so
// the client_termination class still applies to the item but the sweep
// never reads it again: it is kept past the 12 months, for good.
func TestReview8ConfirmationDropsAClientTerminationFromTheSweep(t *testing.T) {
	t.Parallel()
	r := newReview8(t)
	ctx := context.Background()
	now := time.Now().UTC()
	sub := r8Subject("a")
	ok, err := r.s.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: "r8-term@example.com", Topics: []string{"newsletter"}},
		Subject: sub, ID: "sig-term", Cooldown: time.Minute, Event: privacy.Event{Subject: sub, Name: "subscribe_requested", At: now, Ref: "sig-term"}})
	if err != nil || !ok {
		t.Fatalf("signup: %v %v", ok, err)
	}
	if _, err := r.s.MarkClientTerminated(ctx, sub, privacy.Event{Subject: sub, Name: "client_termination_requested", At: now, Ref: "term"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.s.ConfirmSubscription(ctx, sub, "sig-term", privacy.Event{Subject: sub, Name: "subscription_confirmed",
		At: now.Add(time.Minute), Ref: "sig-term", PolicyVersion: "v1"}); err != nil || !ok {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	it := r.get(t, r.tables.Subjects, dynamo.SubjectPK(sub), "SUB")
	next, applies := privacy.NextDue(privacy.RetentionClasses(), privacy.TableSubjects, dynamo.AsItem(it))
	if !applies {
		t.Fatalf("setup: no class applies to the confirmed subscription: %v", it)
	}
	if _, _, filed, ok := dynamo.Filed(it); !ok || filed.After(next) {
		t.Errorf("confirmed subscription due at %v (client_termination) but filed %v (in the index: %v)", next, filed, ok)
	}
	r.sweepAt(t, now.AddDate(0, 0, privacy.Retention().ClientTermination.Days+1))
	if it := r.get(t, r.tables.Subjects, dynamo.SubjectPK(sub), "SUB"); it != nil {
		t.Errorf("subscription still held %d days after its client's termination (client_terminated_at %v)",
			privacy.Retention().ClientTermination.Days+1, it["client_terminated_at"])
	}
}

// failingStamps is an HTTP client for DynamoDB that refuses, while on,
// every request that stamps a consent's proof withdrawn (the only write
// that sets withdrawn_at), as DynamoDB refuses a throttled write.
type failingStamps struct {
	next aws.HTTPClient
	on   atomic.Bool
	hits atomic.Int32
}

func (f *failingStamps) Do(req *http.Request) (*http.Response, error) {
	if f.on.Load() && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("withdrawn_at")) {
			f.hits.Add(1)
			return &http.Response{StatusCode: http.StatusBadRequest, Request: req, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
				Body: io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"injected: stamp refused"}`))}, nil
		}
	}
	return f.next.Do(req)
}

// An unsubscribe whose stamp of the consent's proof fails (#36: the stamp
// now comes after the subscription is ended, and "a failed stamp is made
// by the retry"), twice. The subscription is unsubscribed, so the sweep
// deletes it 30 days later; a retry after that finds no subscription and
// stamps nothing. The proof then carries no withdrawn_at and is in no
// retention index: kept for good, not 3 years after the withdrawal
// (consent_proof). Before #36 the stamp came first, so a failed stamp
// left the subscription confirmed and the retry could always stamp.
func TestReview8ProofStampFailedTwiceIsNeverMade(t *testing.T) {
	t.Parallel()
	r := newReview8(t)
	ctx := context.Background()
	now := time.Now().UTC()
	sub := r8Subject("b")
	r.confirmed(t, sub, "sig-stamp", now)

	faults := &failingStamps{}
	flaky := dynamodb.New(r.db.Options(), func(o *dynamodb.Options) {
		faults.next = o.HTTPClient
		o.HTTPClient = faults
		o.RetryMaxAttempts = 1
	})
	fs := dynamo.New(flaky, r.tables)
	faults.on.Store(true)
	at := now.Add(time.Hour)
	for i := range 2 {
		if err := fs.Unsubscribe(ctx, sub, privacy.Event{Subject: sub, Name: "unsubscribed", At: at, Ref: "unsub", PolicyVersion: "v1"}); err == nil {
			t.Fatalf("setup: unsubscribe %d succeeded with its stamp refused (%d refused)", i+1, faults.hits.Load())
		}
	}
	faults.on.Store(false)
	// 31 days on, the sweep runs (and deletes the subscription the failed
	// calls ended); the retry comes after it.
	r.sweepAt(t, at.AddDate(0, 0, privacy.Retention().Unsubscribed.Days+1))
	if _, err := r.s.Subscription(ctx, sub); errors.Is(err, privacy.ErrNotFound) {
		t.Log("the subscription the failed unsubscribes ended was swept before the retry")
	}
	if err := r.s.Unsubscribe(ctx, sub, privacy.Event{Subject: sub, Name: "unsubscribed", At: at.AddDate(0, 0, 32), Ref: "unsub-2", PolicyVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	proof := r.get(t, r.tables.Subjects, dynamo.SubjectPK(sub), "CONSENT#sig-stamp")
	if proof == nil {
		t.Fatal("setup: no consent proof")
	}
	_, _, filed, inIndex := dynamo.Filed(proof)
	if proof["withdrawn_at"] == nil || !inIndex {
		t.Errorf("the proof of a consent withdrawn at %v has no end: withdrawn_at %v, in the retention index %v (%v)",
			at, proof["withdrawn_at"], inIndex, filed)
	}
}

// A confirmed subscription carrying a stored time the record cannot read
// (a corrupt or legacy confirmed_at; #32 made such a time an error) is
// unsubscribed. The update ends it, then the decoding of its old image
// (ALL_OLD, #36) fails on the unread time: the unsubscribe errs after the
// subscription was ended, the proof is not stamped, and every retry
// fails the same way on the refused update's image. The person's
// withdrawal never starts the proof's 3 years, and their unsubscribe link
// answers an error each time.
func TestReview8UnreadableTimeStopsTheProofStamp(t *testing.T) {
	t.Parallel()
	r := newReview8(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for _, tc := range []struct{ name, attr, value string }{
		{"not a time", "confirmed_at", "yesterday"},
		{"a date without its time", "confirmed_at", "2025-03-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := r8Subject("d")
			r.confirmed(t, s, "sig-"+strings.ReplaceAll(tc.name, " ", "-"), now)
			_, err := r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(r.tables.Subjects),
				Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: dynamo.SubjectPK(s)}, "sk": &types.AttributeValueMemberS{Value: "SUB"}},
				UpdateExpression:          aws.String("SET #a = :v"),
				ExpressionAttributeNames:  map[string]string{"#a": tc.attr},
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: tc.value}}})
			if err != nil {
				t.Fatal(err)
			}
			var errs []error
			for i := range 2 { // the call and its retry
				errs = append(errs, r.s.Unsubscribe(ctx, s, privacy.Event{Subject: s, Name: "unsubscribed", At: now.Add(time.Duration(i+1) * time.Hour),
					Ref: "unsub", PolicyVersion: "v1"}))
			}
			proof := r.get(t, r.tables.Subjects, dynamo.SubjectPK(s), "CONSENT#sig-"+strings.ReplaceAll(tc.name, " ", "-"))
			if proof["withdrawn_at"] == nil {
				t.Errorf("%s %q: the withdrawn consent's proof is never stamped (unsubscribe: %v; retry: %v)", tc.attr, tc.value, errs[0], errs[1])
			}
			if errs[1] != nil {
				t.Errorf("%s %q: the retry of the unsubscribe fails: %v", tc.attr, tc.value, errs[1])
			}
		})
	}
}

// The team upholds an objection with erase (claimed: in_progress) while
// another member denies it: the lifecycle lets a denial start from
// in_progress (StepDeny from OpenStatuses), and the fulfilment's outcome
// (SetOutcome, StepFulfil) is written with no condition on the status
// the table has it start from (the team's). A denied request becomes
// completed: the table's "fulfil" from denied, which privacy.Steps
// refuses, is written.
func TestReview8FulfilmentCrossingADenial(t *testing.T) {
	t.Parallel()
	r := newReview8(t)
	ctx := context.Background()
	at := time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		outcome privacy.Status
	}{
		{"completed", privacy.RequestCompleted},
		{"to review", privacy.RequestAwaitingReview},
	} {
		id := "r8-cross-" + strings.ReplaceAll(tc.name, " ", "-") + "-" + localtest.Unique()
		sub := r8Subject("e")
		ev := func(name privacy.EventName) privacy.Event {
			return privacy.Event{Subject: sub, Name: name, At: at, Ref: id}
		}
		if err := r.s.CreateRequest(ctx, privacy.RightsRequest{ID: id, Subject: sub, Email: "r8-x@example.com", Type: privacy.RightErasure,
			Regulation: privacy.RegulationGDPR, Status: privacy.RequestPending, ReceivedAt: at, DueAt: at.AddDate(0, 1, 0)}, ev(privacy.EventRequestReceived)); err != nil {
			t.Fatal(err)
		}
		if err := r.s.Transition(ctx, id, privacy.Transition{Step: privacy.StepClaim, Status: privacy.RequestInProgress}, ev("claimed")); err != nil {
			t.Fatal(err)
		}
		if err := r.s.Transition(ctx, id, privacy.Transition{Step: privacy.StepDeny, Status: privacy.RequestDenied, Reason: "no"}, ev(privacy.EventRequestDenied)); err != nil {
			t.Fatalf("setup: the denial from in_progress: %v", err)
		}
		err := r.s.SetOutcome(ctx, id, privacy.Outcome{Status: tc.outcome, MailDue: privacy.Due(privacy.MailErased, "")}, ev(privacy.EventErased))
		got, gerr := r.s.Request(ctx, id)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if got.Status != privacy.RequestDenied {
			t.Errorf("%s: a denied request's fulfilment wrote status %s (SetOutcome: %v); privacy.Steps allows fulfil only from %v",
				tc.name, got.Status, err, privacy.StepFulfil.From())
		}
	}
}

// An objection to all processing restricts the person while the team
// weighs it (the fulfilment sets restricts on the request); the team
// denies it (compelling grounds, Desk.Deny): the restriction is lifted in
// the subjects table, but the request keeps restricts and gets no
// lifted_at, so neither finished_rights_request_address (Unless
// restricts) nor lifted_restriction_address (clock lifted_at) applies:
// the requester's address stays with the request for its 3 years, not 30
// days after the answer, whenever the denial's email did not strip it.
func TestReview8DeniedObjectionKeepsTheAddress(t *testing.T) {
	t.Parallel()
	r := newReview8(t)
	ctx := context.Background()
	now := time.Now().UTC()
	sub := r8Subject("f")
	id := "r8-obj-" + localtest.Unique()
	req := privacy.RightsRequest{ID: id, Subject: sub, Email: "r8-obj@example.com", Type: privacy.RightObjection,
		Scope: privacy.ScopeAll, Regulation: privacy.RegulationGDPR, Status: privacy.RequestPending, ReceivedAt: now, DueAt: now.AddDate(0, 1, 0)}
	if err := r.s.CreateRequest(ctx, req, privacy.Event{Subject: sub, Name: privacy.EventRequestReceived, At: now, Ref: id}); err != nil {
		t.Fatal(err)
	}
	f := &rights.Fulfiller{Store: r.s, Policy: privacy.FixedPolicy("v1"), Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	if st, err := f.Fulfil(ctx, req, "once", now); err != nil || st != privacy.RequestAwaitingReview {
		t.Fatalf("setup: fulfil: %s %v", st, err)
	}
	desk := &rights.Desk{Store: r.s, Fulfiller: f, Now: func() time.Time { return now }, NewID: func() string { return localtest.Unique() + localtest.Unique() }, By: "arn:aws:iam::1:user/dpo"}
	if err := desk.Deny(ctx, id, "compelling legitimate grounds"); err != nil {
		t.Fatal(err)
	}
	if by, err := r.s.Restriction(ctx, sub); err != nil || len(by) != 0 {
		t.Fatalf("setup: still restricted by %v (%v)", by, err)
	}
	days := privacy.Retention().FinishedRequestAddress.Days + 1
	r.sweepAt(t, now.AddDate(0, 0, days))
	it := r.get(t, r.tables.Requests, "R#"+id, "REQUEST")
	if it == nil {
		t.Fatal("setup: request gone")
	}
	if it["email"] != nil {
		t.Errorf("denied objection (its restriction lifted) still holds the requester's address %d days after the denial; next due %v",
			days, it["retention_at"])
	}
}

// One old request whose received_at cannot be read (#32: corrupt times
// are errors) fails the whole deadline digest: the watch reads
// received_at, which no digest line shows, and returns the error, so the
// team is told of no overdue request at all, the readable ones included.
// (Before #32 the unread time was dropped and the digest went out.)
func TestReview8OneUnreadableTimeStopsTheDeadlineDigest(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	r := newReview8(t)
	ctx := context.Background()
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	team := "r8-team-" + localtest.Unique() + "@example.com"
	w := &deadlines.Watch{Store: r.s, Mail: &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"},
		Config: notify.Config{TeamInbox: team}, Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	put := func(id, received string, due time.Time) {
		item := map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "R#" + id}, "sk": &types.AttributeValueMemberS{Value: "REQUEST"},
			"id": &types.AttributeValueMemberS{Value: id}, "kind": &types.AttributeValueMemberS{Value: dynamo.KindRequest},
			"type": &types.AttributeValueMemberS{Value: "access"}, "status": &types.AttributeValueMemberS{Value: "pending"},
			"due_at": &types.AttributeValueMemberS{Value: due.Format(time.RFC3339)}, "received_at": &types.AttributeValueMemberS{Value: received}}
		if _, err := r.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.tables.Requests), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	put("r8-late-readable", now.AddDate(0, -1, -2).Format(time.RFC3339Nano), now.Add(-48*time.Hour))
	put("r8-late-old", "12/01/2026", now.Add(-24*time.Hour))
	res, err := w.Run(ctx)
	if err != nil || res.Overdue != 2 || !res.Sent {
		t.Errorf("digest with one unreadable received_at: %+v, %v; want both overdue requests listed and sent", res, err)
	}
}

// An unsubscribed subscription whose unsubscribed_at cannot be read (a
// corrupt or legacy time on an old item), filed in the retention index as
// due. The sweep finds no class whose clock it can read and refiles the
// item as due for nothing: it REMOVEs it from the index, counting and
// logging nothing, so no later run ever sees it, and the subscription
// (an address) is kept for good instead of 30 days after the
// unsubscribe. An item the sweep cannot judge must stay where a sweep
// looks again (or be reported), not drop out of its sight.
func TestReview8UnreadableClockDropsOutOfTheSweep(t *testing.T) {
	t.Parallel()
	r := newReview8(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for _, tc := range []struct{ name, value string }{
		{"not a time", "last month"},
		{"a date only", "2025-01-31"},
	} {
		sub := r8Subject("9")
		item := map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: dynamo.SubjectPK(sub)}, "sk": &types.AttributeValueMemberS{Value: "SUB"},
			"kind": &types.AttributeValueMemberS{Value: dynamo.KindSubscription}, "status": &types.AttributeValueMemberS{Value: privacy.StatusUnsubscribed},
			"email":           &types.AttributeValueMemberS{Value: "r8-clock@example.com"},
			"unsubscribed_at": &types.AttributeValueMemberS{Value: tc.value},
		}
		// Filed as due, as its writer left it before the time went bad.
		item["retention_pk"] = &types.AttributeValueMemberS{Value: privacy.RetentionShard(dynamo.SubjectPK(sub) + "|SUB")}
		item["retention_at"] = &types.AttributeValueMemberN{Value: "1"}
		if _, err := r.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.tables.Subjects), Item: item}); err != nil {
			t.Fatal(err)
		}
		r.sweepAt(t, now)
		it := r.get(t, r.tables.Subjects, dynamo.SubjectPK(sub), "SUB")
		if it == nil {
			continue // deleted: the promise kept
		}
		if _, _, _, filed := dynamo.Filed(it); !filed {
			t.Errorf("%s: an unsubscribed subscription whose unsubscribed_at is %q left the retention index: no sweep will ever delete it",
				tc.name, tc.value)
		}
	}
}
