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

// A stored time that cannot be read is an error where it is read, never
// the zero time: a legal hold whose end is corrupt is not listed as ended
// in the year 1, and a policy version whose effective day is corrupt is
// not in force since the year 1. (Before, each was the zero time.)
func TestCorruptStoredTimesAreErrors(t *testing.T) {
	t.Parallel()
	s, db, tables := newStoreDB(t)
	ctx := context.Background()
	now := time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC)
	subject := privacy.SubjectID("corrupt-hold-subject")
	if err := s.PlaceHold(ctx, privacy.Hold{Subject: subject, Reason: "litigation", PlacedBy: "dpo", PlacedAt: now},
		privacy.Event{Subject: subject, Name: "legal_hold_placed", At: now}); err != nil {
		t.Fatal(err)
	}
	if hs, err := s.Holds(ctx); err != nil || len(hs) == 0 {
		t.Fatalf("holds: %v %v", hs, err)
	}
	set := func(table string, key map[string]types.AttributeValue, attr, v string) {
		t.Helper()
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key,
			UpdateExpression: aws.String("SET #a = :v"), ExpressionAttributeNames: map[string]string{"#a": attr},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	set(tables.Subjects, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "S#" + string(subject)},
		"sk": &types.AttributeValueMemberS{Value: privacy.HoldLegal}}, "until", "next spring")
	if hs, err := s.Holds(ctx); err == nil {
		t.Errorf("a corrupt hold end read as %+v", hs)
	}

	v := privacy.PolicyVersion{Version: "corrupt-" + now.Format("150405"), Summary: "s", Effective: now, PublishedAt: now, PublishedBy: "dpo"}
	if err := s.PublishPolicy(ctx, v); err != nil {
		t.Fatal(err)
	}
	set(tables.Ops, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "POLICY"},
		"sk": &types.AttributeValueMemberS{Value: v.Version}}, "effective", "soon")
	if vs, err := s.PolicyVersions(ctx); err == nil {
		t.Errorf("a corrupt effective day read as %+v", vs)
	}
}
