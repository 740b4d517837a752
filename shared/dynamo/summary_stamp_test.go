package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The deadline digest's summaries decode their times through the
// request's stamps: read back as written, and a corrupt one an error.
func TestDueRequestsDecodeTheirTimes(t *testing.T) {
	t.Parallel()
	s, db, tables := newStoreDB(t)
	ctx := context.Background()
	at := time.Date(2027, 5, 3, 9, 30, 15, 123456789, time.UTC)
	due := at.AddDate(0, 1, 0).Truncate(time.Second)
	id := "sum-" + time.Now().Format("150405.000000000")
	r := privacy.RightsRequest{ID: id, Subject: "subj-" + privacy.SubjectID(id), Type: privacy.RightErasure, Regulation: privacy.RegulationGDPR,
		Status: privacy.RequestAwaitingReview, ReceivedAt: at, DueAt: due}
	if err := s.CreateRequest(ctx, r, privacy.Event{Subject: r.Subject, Name: privacy.EventRequestReceived, At: at, Ref: id}); err != nil {
		t.Fatal(err)
	}
	find := func() (privacy.RightsRequest, error) {
		rs, err := s.DueRequests(ctx, privacy.RequestAwaitingReview, due)
		for _, got := range rs {
			if got.ID == id {
				return got, err
			}
		}
		return privacy.RightsRequest{}, err
	}
	got, err := find()
	if err != nil || got.Type != r.Type || got.Status != r.Status || !got.ReceivedAt.Equal(at) || !got.DueAt.Equal(due) {
		t.Fatalf("summary %+v, %v", got, err)
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &tables.Requests,
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "R#" + id},
			"sk": &types.AttributeValueMemberS{Value: "REQUEST"}},
		UpdateExpression:          aws.String("SET received_at = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "a while ago"}}}); err != nil {
		t.Fatal(err)
	}
	// A corrupt time stops no digest (review 8): the request is listed,
	// the unreadable time zero.
	if got, err := find(); err != nil || !got.ReceivedAt.IsZero() || !got.DueAt.Equal(due) {
		t.Errorf("a corrupt received_at: %+v, %v; want it listed with that time zero", got, err)
	}
}
