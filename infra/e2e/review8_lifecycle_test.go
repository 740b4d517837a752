package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Review 8: a Platform request written before the retention index (an
// OpenDSR request completed more than 3 years ago, carrying no
// retention_pk/retention_at), moved to PlatformRequestsTable by
// privacyctl platform upgrade-records (#35) as stored. The upgrade's
// privacyctl retention backfill files only the subjects, ledger, requests
// and ops tables (and PrivacyBackfillPolicy grants only those), so the
// sweep, which reads only its retention index, never finds the request:
// completed_platform_request (3 years) is never enforced on it.
func TestReview8BackfillLeavesPlatformRequestsUnfiled(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	ctx := context.Background()
	done := time.Now().UTC().AddDate(-3, 0, -2)
	id := "r8-old-platform"
	_, err := s.DB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Tables["PlatformRequestsTable"]),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "R#" + id}, "sk": &types.AttributeValueMemberS{Value: "REQUEST"},
			"id": &types.AttributeValueMemberS{Value: id}, "kind": &types.AttributeValueMemberS{Value: "rights_request"},
			"source": &types.AttributeValueMemberS{Value: "opendsr"}, "type": &types.AttributeValueMemberS{Value: "erasure"},
			"status":       &types.AttributeValueMemberS{Value: "completed"},
			"received_at":  &types.AttributeValueMemberS{Value: done.AddDate(0, 0, -3).Format(time.RFC3339)},
			"completed_at": &types.AttributeValueMemberS{Value: done.Format(time.RFC3339)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.privacyctl(t, "retention", "backfill", "-json")
	if err != nil {
		t.Fatalf("backfill: %v %s", err, out)
	}
	body, _ := json.Marshal(map[string]bool{"dry_run": false})
	resp, rep := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", string(body), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("sweep: %d %s", resp.StatusCode, rep)
	}
	for _, it := range s.items(t, "PlatformRequestsTable") {
		if str(it, "pk") == "R#"+id {
			t.Errorf("a Platform request completed %s (over 3 years ago) is still held after the backfill and a sweep; backfill: %s; sweep: %s",
				done.Format(time.DateOnly), strings.TrimSpace(out), rep)
		}
	}
}
