package dynamo_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A legal hold withholds an erasure while in force and not after its end;
// it is listed, read per subject, and lifted once.
func TestLegalHolds(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	held, ended := privacy.SubjectID("held-subject"), privacy.SubjectID("ended-subject")
	for _, sub := range []privacy.SubjectID{held, ended} {
		inq := privacy.NewInquiry("inq-"+string(sub), sub, privacy.ContactForm{Name: "H", Email: string(sub) + "@example.com",
			Topic: "demo", Message: "m"}, "v", privacy.RequestMeta{ReceivedAt: now.Add(-time.Hour)})
		if err := s.SaveInquiry(ctx, inq); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(sub privacy.SubjectID, name privacy.EventName) privacy.Event {
		return privacy.Event{Subject: sub, Name: name, At: now}
	}
	if err := s.PlaceHold(ctx, privacy.Hold{Subject: held, Reason: "litigation 2026-41", PlacedBy: "dpo", PlacedAt: now}, ev(held, "legal_hold_placed")); err != nil {
		t.Fatal(err)
	}
	if err := s.PlaceHold(ctx, privacy.Hold{Subject: ended, Reason: "audit", PlacedBy: "dpo", PlacedAt: now.Add(-48 * time.Hour),
		Until: now.Add(-time.Hour)}, ev(ended, "legal_hold_placed")); err != nil {
		t.Fatal(err)
	}
	hs, err := s.Holds(ctx)
	if err != nil || len(hs) != 2 {
		t.Fatalf("holds %+v %v", hs, err)
	}
	h, ok, err := s.SubjectHold(ctx, held)
	if err != nil || !ok || h.Reason != "litigation 2026-41" || !h.InForce(now) {
		t.Fatalf("subject hold %+v %v %v", h, ok, err)
	}
	if withheld, n, err := s.Erase(ctx, held, "r1", ev(held, "erased")); err != nil || !withheld || n != 0 {
		t.Fatalf("erasure under a hold in force: withheld %v, %d deleted, %v", withheld, n, err)
	}
	if withheld, n, err := s.Erase(ctx, ended, "r2", ev(ended, "erased")); err != nil || withheld || n == 0 {
		t.Fatalf("erasure after the hold ended: withheld %v, %d deleted, %v", withheld, n, err)
	}
	if err := s.LiftHold(ctx, held, ev(held, "legal_hold_lifted")); err != nil {
		t.Fatal(err)
	}
	if err := s.LiftHold(ctx, held, ev(held, "legal_hold_lifted")); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("a second lift: %v", err)
	}
	if withheld, _, err := s.Erase(ctx, held, "r3", ev(held, "erased")); err != nil || withheld {
		t.Fatalf("erasure after the lift: withheld %v, %v", withheld, err)
	}
}

// A restriction belongs to the request that made it: each restricting
// request adds its own, a lift ends only its own, the subject stays
// restricted (its item, and its entry in the holds index) while any
// remains; a restriction stored before the set (request_id) is lifted by
// its own request only.
func TestRestrictionsBelongToTheirRequests(t *testing.T) {
	t.Parallel()
	s, db, tables := newStoreDB(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	sub := privacy.SubjectID("restricted-subject")
	ev := func(name privacy.EventName) privacy.Event { return privacy.Event{Subject: sub, Name: name, At: now} }
	listed := func() bool {
		t.Helper()
		out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tables.Subjects), IndexName: aws.String("by-list"),
			KeyConditionExpression:    aws.String("list_pk = :h AND list_sk = :s"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberS{Value: privacy.HoldsList}, ":s": &types.AttributeValueMemberS{Value: dynamo.SubjectPK(sub)}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Items) > 0
	}
	for _, id := range []string{"restriction-1", "objection-2", "restriction-1"} {
		if err := s.Restrict(ctx, sub, id, ev("restricted")); err != nil {
			t.Fatal(err)
		}
	}
	if by, err := s.Restriction(ctx, sub); err != nil || !slices.Equal(by, []string{"objection-2", "restriction-1"}) {
		t.Fatalf("restricted by %v %v", by, err)
	}
	if err := s.Lift(ctx, sub, "someone-else", ev("restriction_lifted")); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("a request with no restriction of its own lifted: %v", err)
	}
	if err := s.Lift(ctx, sub, "objection-2", ev("restriction_lifted")); err != nil {
		t.Fatal(err)
	}
	if by, _ := s.Restriction(ctx, sub); !slices.Equal(by, []string{"restriction-1"}) || !listed() {
		t.Fatalf("after the objection's lift: restricted by %v, listed %v", by, listed())
	}
	if err := s.Lift(ctx, sub, "restriction-1", ev("restriction_lifted")); err != nil {
		t.Fatal(err)
	}
	if by, _ := s.Restriction(ctx, sub); len(by) != 0 || listed() {
		t.Fatalf("after the last lift: restricted by %v, listed %v", by, listed())
	}
	// An item stored before the set.
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tables.Subjects), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: dynamo.SubjectPK(sub)}, "sk": &types.AttributeValueMemberS{Value: privacy.HoldRestriction},
		"request_id": &types.AttributeValueMemberS{Value: "old-1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Restrict(ctx, sub, "new-2", ev("restricted")); err != nil {
		t.Fatal(err)
	}
	if by, _ := s.Restriction(ctx, sub); !slices.Equal(by, []string{"new-2", "old-1"}) {
		t.Fatalf("legacy and new: %v", by)
	}
	if err := s.Lift(ctx, sub, "old-1", ev("restriction_lifted")); err != nil {
		t.Fatal(err)
	}
	if by, _ := s.Restriction(ctx, sub); !slices.Equal(by, []string{"new-2"}) {
		t.Fatalf("after the legacy lift: %v", by)
	}
}
