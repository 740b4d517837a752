package local_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// A table kept from an earlier `make dev` gains the indexes and stream the
// template added since, one index at a time, each usable once added. It
// runs on a DynamoDB Local of its own that keeps its data on disk, as
// `make dev`'s does (kept tables exist only there; an in-memory DynamoDB
// Local never finishes an index added to an existing table).
func TestCreateTablesReconcilesKeptTables(t *testing.T) {
	svc := localtest.Need(t)
	svc.DynamoDB = localtest.OwnDynamoDB(t, t.TempDir()).URL
	db := localtest.DynamoDB(svc)
	ctx := context.Background()
	prefix := "r" + localtest.Unique() + "-"
	name := prefix + "SubjectsTable"
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: "S"}, {AttributeName: aws.String("sk"), AttributeType: "S"}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: "HASH"}, {AttributeName: aws.String("sk"), KeyType: "RANGE"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Written before the retention index: filed once the index is added.
	old := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "S#old"}, "sk": &types.AttributeValueMemberS{Value: "SUB"},
		"kind": &types.AttributeValueMemberS{Value: "subscription"}, "status": &types.AttributeValueMemberS{Value: "pending"},
		"confirm_requested_at": &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: old}); err != nil {
		t.Fatal(err)
	}
	tmpl, err := local.ReadTemplate(filepath.Join(localtest.Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := local.NewResolver(tmpl, local.DevParams("http://localhost:3000"), "us-east-1")
	if err := local.CreateTables(ctx, db, tmpl, r, prefix); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range tmpl.ResourcesOfType("AWS::DynamoDB::Table") {
			_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(prefix + id)})
		}
	})
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		got = append(got, aws.ToString(g.IndexName))
	}
	slices.Sort(got)
	if want := []string{"by-email-md5", "by-email-sha1", "by-email-sha256", "by-list", "by-retention"}; !slices.Equal(got, want) {
		t.Errorf("indexes %v, want %v", got, want)
	}
	if desc.Table.LatestStreamArn == nil {
		t.Error("the stream was not enabled")
	}
	kept, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), Key: map[string]types.AttributeValue{"pk": old["pk"], "sk": old["sk"]}})
	if err != nil || kept.Item["retention_pk"] == nil || kept.Item["retention_at"] == nil {
		t.Errorf("the kept item was not filed in the retention index: %v %v", err, kept)
	}
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "S#x"}, "sk": &types.AttributeValueMemberS{Value: "SUB"},
		"email_sha256": &types.AttributeValueMemberS{Value: "k"}}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: key}); err != nil {
		t.Fatalf("write after the indexes were added: %v", err)
	}
	out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(name), IndexName: aws.String("by-email-sha256"),
		KeyConditionExpression:    aws.String("email_sha256 = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: "k"}}})
	if err != nil || out.Count != 1 {
		t.Fatalf("query of an added index: %v %+v", err, out)
	}
}
