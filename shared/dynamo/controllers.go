package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Controller is an OpenDSR controller's credential: its id and a keyed
// hash of its secret (never the secret), in the ops table.
type Controller struct {
	ID         string `dynamodbav:"controller_id"`
	SecretHash string `dynamodbav:"secret_hash"`
	Name       string `dynamodbav:"name"`
	CreatedAt  string `dynamodbav:"created_at"`
	Revoked    bool   `dynamodbav:"revoked,omitempty"`
}

// ControllerPrefix starts the partition key of every controller
// credential in the ops table. The template denies writes under it to
// every internet-facing function (dynamodb:LeadingKeys), so only the
// operator's role can issue or revoke one.
const ControllerPrefix = "CTRL#"

func controllerKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(ControllerPrefix + id), attrSK: str("CTRL")}
}

// PutController stores a new controller credential.
func (s *Store) PutController(ctx context.Context, c Controller, at time.Time) error {
	c.CreatedAt = ts(at)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ops, Item: map[string]types.AttributeValue{
		attrPK: str(ControllerPrefix + c.ID), attrSK: str("CTRL"), "controller_id": str(c.ID), "secret_hash": str(c.SecretHash),
		"name": str(c.Name), "created_at": str(c.CreatedAt)},
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil {
		return fmt.Errorf("put controller: %w", err)
	}
	return nil
}

// LookupController returns a controller's credential; ErrNotFound when
// there is none.
func (s *Store) LookupController(ctx context.Context, id string) (Controller, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops, Key: controllerKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Controller{}, fmt.Errorf("get controller: %w", err)
	}
	if out.Item == nil {
		return Controller{}, ErrNotFound
	}
	c := Controller{ID: id}
	if v, ok := out.Item["secret_hash"].(*types.AttributeValueMemberS); ok {
		c.SecretHash = v.Value
	}
	if v, ok := out.Item["revoked"].(*types.AttributeValueMemberBOOL); ok {
		c.Revoked = v.Value
	}
	return c, nil
}

// RevokeController withdraws a controller's credential.
func (s *Store) RevokeController(ctx context.Context, id string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: controllerKey(id),
		UpdateExpression: aws.String("SET revoked = :t"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}})
	if isConditionFailed(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke controller: %w", err)
	}
	return nil
}
