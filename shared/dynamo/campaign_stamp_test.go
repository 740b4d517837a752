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

// A campaign whose stored time cannot be read is an error where it is
// read (the campaign's status, a second start with its id), never the
// zero time. (Before, both times were read with the error discarded.)
func TestCorruptCampaignTimeIsAnError(t *testing.T) {
	t.Parallel()
	s, db, tables := newStoreDB(t)
	ctx := context.Background()
	now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, attr := range []string{"created_at", "updated_at"} {
		p := privacy.CampaignPlan{ID: "corrupt-" + attr + "-" + time.Now().Format("150405.000000000"), Topic: "news",
			Subject: "s", Body: "b", State: "planning", Created: now, Updated: now}
		if _, err := s.StartCampaign(ctx, p); err != nil {
			t.Fatal(err)
		}
		if got, found, err := s.Campaign(ctx, p.ID); err != nil || !found || !got.Created.Equal(now) || !got.Updated.Equal(now) {
			t.Fatalf("%s: before the corruption: %+v %v %v", attr, got, found, err)
		}
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &tables.Ops,
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "CAMPAIGN#" + p.ID},
				"sk": &types.AttributeValueMemberS{Value: "CAMPAIGN"}},
			UpdateExpression: aws.String("SET #a = :v"), ExpressionAttributeNames: map[string]string{"#a": attr},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "last week"}}}); err != nil {
			t.Fatal(err)
		}
		if got, _, err := s.Campaign(ctx, p.ID); err == nil {
			t.Errorf("%s: a corrupt time read as %v / %v", attr, got.Created, got.Updated)
		}
		if got, err := s.StartCampaign(ctx, p); err == nil {
			t.Errorf("%s: started again over a corrupt record: %v / %v", attr, got.Created, got.Updated)
		}
	}
}
