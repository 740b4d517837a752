package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// PlaceHold puts a subject under a legal hold (or replaces the one it is
// under), with its ledger entry.
func (s *Store) PlaceHold(ctx context.Context, h privacy.Hold, e privacy.Event, more ...privacy.Event) error {
	item := holdKey(h.Subject, privacy.HoldLegal)
	item["list_pk"], item["list_sk"] = str(privacy.HoldsList), str(SubjectPK(h.Subject))
	item["reason"], item["placed_by"], item["placed_at"] = str(h.Reason), str(h.PlacedBy), str(ts(h.PlacedAt))
	if !h.Until.IsZero() {
		item["until"] = str(ts(h.Until))
	}
	ledger, err := s.ledgerPuts(append([]privacy.Event{e}, more...))
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.tables.Subjects, Item: item}}}, ledger...)})
	if err != nil {
		return fmt.Errorf("place hold: %w", err)
	}
	return nil
}

// LiftHold ends a subject's legal hold, with its ledger entry;
// privacy.ErrNotFound when there is none.
func (s *Store) LiftHold(ctx context.Context, subject privacy.SubjectID, e privacy.Event, more ...privacy.Event) error {
	ledger, err := s.ledgerPuts(append([]privacy.Event{e}, more...))
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.tables.Subjects, Key: holdKey(subject, privacy.HoldLegal),
			ConditionExpression: aws.String("attribute_exists(pk)")}}}, ledger...)})
	if refusedAt(err, 0) {
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("lift hold: %w", err)
	}
	return nil
}

// Holds lists every legal hold (one query of the sparse holds index).
func (s *Store) Holds(ctx context.Context) ([]privacy.Hold, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Subjects, IndexName: aws.String("by-list"),
		KeyConditionExpression:    aws.String("list_pk = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": str(privacy.HoldsList)}})
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	var out []privacy.Hold
	for _, it := range items {
		if s1(it, attrSK) != privacy.HoldLegal {
			continue // a restriction, not a legal hold
		}
		h, err := decodeHold(it)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// SubjectHold returns a subject's legal hold; ok is false when it has none.
func (s *Store) SubjectHold(ctx context.Context, subject privacy.SubjectID) (privacy.Hold, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects, Key: holdKey(subject, privacy.HoldLegal),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.Hold{}, false, fmt.Errorf("get hold: %w", err)
	}
	if out.Item == nil {
		return privacy.Hold{}, false, nil
	}
	h, err := decodeHold(out.Item)
	return h, err == nil, err
}

// decodeHold reads a legal hold item (as stored, or from the holds
// index).
func decodeHold(it map[string]types.AttributeValue) (privacy.Hold, error) {
	h := privacy.Hold{Subject: privacy.SubjectID(trimPK(s1(it, attrPK))), Reason: s1(it, "reason"), PlacedBy: s1(it, "placed_by")}
	var err error
	if h.PlacedAt, err = parseTS(s1(it, "placed_at")); err != nil {
		return h, fmt.Errorf("legal hold: placed_at: %w", err)
	}
	if h.Until, err = parseTS(s1(it, "until")); err != nil {
		return h, fmt.Errorf("legal hold: until: %w", err)
	}
	return h, nil
}

func trimPK(pk string) string {
	if len(pk) > 2 && pk[:2] == "S#" {
		return pk[2:]
	}
	return pk
}
