package local_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// A table kept from an earlier `make dev` gains the indexes and stream the
// template added since.
func TestCreateTablesReconcilesKeptTables(t *testing.T) {
	svc := localtest.Need(t)
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
	tmpl, err := local.ReadTemplate(filepath.Join(localtest.Root(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := local.NewResolver(tmpl, nil, "us-east-1")
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
	if len(desc.Table.GlobalSecondaryIndexes) != 1 || aws.ToString(desc.Table.GlobalSecondaryIndexes[0].IndexName) != "by-list" {
		t.Errorf("indexes %+v", desc.Table.GlobalSecondaryIndexes)
	}
	if desc.Table.LatestStreamArn == nil {
		t.Error("the stream was not enabled")
	}
}
