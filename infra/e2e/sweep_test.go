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

// The sweep function runs under the emulator against the stack's tables:
// after privacyctl retention backfill, an unconfirmed signup past 30 days
// goes, a fresh one stays; a dry run first reports the same and changes
// nothing.
func TestSweepFunction(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	ctx := context.Background()
	put := func(sk string, requested time.Time) {
		_, err := s.DB().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Tables["SubjectsTable"]),
			Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "S#" + sk}, "sk": &types.AttributeValueMemberS{Value: "SUB"},
				"kind": &types.AttributeValueMemberS{Value: "subscription"}, "status": &types.AttributeValueMemberS{Value: "pending"},
				"email":                &types.AttributeValueMemberS{Value: sk + "@example.com"},
				"confirm_requested_at": &types.AttributeValueMemberS{Value: requested.UTC().Format(time.RFC3339Nano)},
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("old", time.Now().AddDate(0, 0, -31))
	put("new", time.Now().AddDate(0, 0, -29))
	// Written raw, as before the upgrade that added the retention index:
	// the sweep, which no longer scans, finds them once the backfill has
	// filed them.
	if out, err := s.privacyctl(t, "retention", "backfill", "-json"); err != nil || !strings.Contains(out, `"subjects":{"read":2,"filed":2}`) {
		t.Fatalf("backfill: %v %s", err, out)
	}
	for _, dry := range []bool{true, false} {
		body, _ := json.Marshal(map[string]bool{"dry_run": dry})
		resp, out := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", string(body), nil)
		var rep struct {
			Complete bool                      `json:"complete"`
			Counts   map[string]map[string]int `json:"counts"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Complete ||
			rep.Counts["unconfirmed_signup"]["deleted"] != 1 {
			t.Fatalf("dry=%v: %d %s", dry, resp.StatusCode, out)
		}
		left := map[string]bool{}
		for _, it := range s.items(t, "SubjectsTable") {
			left[strings.TrimPrefix(str(it, "pk"), "S#")] = true
		}
		if !left["new"] || left["old"] == !dry {
			t.Fatalf("dry=%v: left %v", dry, left)
		}
	}
}
