package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The receipt keys' public halves are ops items, pk "RCPTKEY", sk the
// key's id. They never expire: a receipt is checked years after it was
// signed. Only the mailer writes them; the receipts' routes read them.
const ReceiptKeysPK = "RCPTKEY"

// PublishKey publishes a receipt key's public half, once: a key published
// before keeps its first time.
func (s *Store) PublishKey(ctx context.Context, k privacy.PublishedKey) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ops,
		Item: map[string]types.AttributeValue{attrPK: str(ReceiptKeysPK), attrSK: str(k.ID), "jwk": str(k.JWK),
			"published_at": str(ts(k.PublishedAt))},
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("publish receipt key: %w", err)
	}
	return nil
}

// PublishedKeys returns every receipt key ever published, oldest id first.
func (s *Store) PublishedKeys(ctx context.Context) ([]privacy.PublishedKey, error) {
	items, err := s.query(ctx, s.tables.Ops, ReceiptKeysPK)
	if err != nil {
		return nil, fmt.Errorf("receipt keys: %w", err)
	}
	out := make([]privacy.PublishedKey, 0, len(items))
	for _, it := range items {
		var r keyRecord
		if err := attributevalue.UnmarshalMap(it, &r); err != nil {
			return nil, fmt.Errorf("receipt key %s: %w", s1(it, attrSK), err)
		}
		out = append(out, privacy.PublishedKey{ID: r.ID, JWK: r.JWK, PublishedAt: r.PublishedAt.Time})
	}
	return out, nil
}

// keyRecord is a published receipt key as stored.
type keyRecord struct {
	ID          string `dynamodbav:"sk"`
	JWK         string `dynamodbav:"jwk"`
	PublishedAt stamp  `dynamodbav:"published_at"`
}
