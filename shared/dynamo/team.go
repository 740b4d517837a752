package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// LiftAskPK is the ops partition of the suppression lifts that wait for a
// second team member: sk the subject hash (one ask per person: a new one
// replaces it), until another member approves it.
const LiftAskPK = "LIFTASK"

func liftAskKey(subject privacy.SubjectID) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(LiftAskPK), attrSK: str(string(subject))}
}

// ledgerPuts are es as ledger writes.
func (s *Store) ledgerPuts(es []privacy.Event) ([]types.TransactWriteItem, error) {
	items := make([]types.TransactWriteItem, 0, len(es))
	for _, e := range es {
		put, err := s.ledgerPut(e)
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: put})
	}
	return items, nil
}

// AskLift records a's ask, with es (who asked, why) in the ledger in the
// same write.
func (s *Store) AskLift(ctx context.Context, a privacy.LiftAsk, es ...privacy.Event) error {
	item := liftAskKey(a.Subject)
	item["reasons"] = str(strings.Join(a.Reasons, ","))
	item["asked_by"], item["asked_at"], item["reason"] = str(a.AskedBy), str(ts(a.AskedAt)), str(a.Reason)
	items, err := s.ledgerPuts(es)
	if err != nil {
		return err
	}
	items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Ops, Item: item}})
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("ask lift: %w", err)
	}
	return nil
}

// LiftAsk is the ask waiting to lift subject's suppressions, if any.
func (s *Store) LiftAsk(ctx context.Context, subject privacy.SubjectID) (privacy.LiftAsk, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops, Key: liftAskKey(subject), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.LiftAsk{}, false, fmt.Errorf("lift ask: %w", err)
	}
	if out.Item == nil {
		return privacy.LiftAsk{}, false, nil
	}
	a := privacy.LiftAsk{Subject: subject, Reasons: strings.Split(s1(out.Item, "reasons"), ","), AskedBy: s1(out.Item, "asked_by"),
		Reason: s1(out.Item, "reason")}
	if a.AskedAt, err = parseTS(s1(out.Item, "asked_at")); err != nil {
		return privacy.LiftAsk{}, false, fmt.Errorf("lift ask: asked_at: %w", err)
	}
	return a, true, nil
}

// TeamLift lifts subject's reasons (as LiftSuppressions does), with every
// entry of es (the person's, the team's) in the same write; with ask, it
// approves that ask and ends it, only while it is still the one recorded
// (privacy.ErrNotFound otherwise: it was replaced or approved meanwhile).
func (s *Store) TeamLift(ctx context.Context, subject privacy.SubjectID, reasons []string, ask *privacy.LiftAsk, es ...privacy.Event) error {
	if len(es) == 0 {
		return fmt.Errorf("lift suppressions: no ledger entry")
	}
	items := []types.TransactWriteItem{}
	if ask != nil {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.tables.Ops, Key: liftAskKey(subject),
			ConditionExpression:       aws.String("asked_by = :by AND asked_at = :at"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":by": str(ask.AskedBy), ":at": str(ts(ask.AskedAt))}}})
	}
	ledger, err := s.ledgerPuts(es)
	if err != nil {
		return err
	}
	items = append(items, ledger...)
	for _, reason := range reasons {
		key := map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(reason)}
		if reason != privacy.SuppressErased {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.tables.Suppression, Key: key}})
			continue
		}
		// Set only where the erasure's record is in force (never a new
		// item): an erasure lifted before keeps its first lift.
		in, err := s.Suppressions(ctx, subject)
		if err != nil {
			return err
		}
		if slices.Contains(in, privacy.SuppressErased) {
			items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Suppression, Key: key,
				UpdateExpression:          aws.String("SET lifted_at = :now"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(ts(es[0].At))}}})
		}
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if ask != nil && refusedAt(err, 0) {
		return fmt.Errorf("the ask to lift was replaced or approved meanwhile: %w", privacy.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("lift suppressions: %w", err)
	}
	return nil
}

// LedgerBetween is subject's ledger from from to to (both included, to the
// nanosecond), oldest first: one query of the partition's sort keys, which
// begin with the entry's time.
func (s *Store) LedgerBetween(ctx context.Context, subject privacy.SubjectID, from, to time.Time) ([]privacy.Event, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ledger, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(SubjectPK(subject)), ":from": str(ts(from)),
			":to": str(ts(to) + "~")}}) // "~" sorts after "#…"
	if err != nil {
		return nil, fmt.Errorf("ledger of %s: %w", subject, err)
	}
	return decodeEvents(items)
}

// decodeEvents reads stored ledger entries; one that cannot be read (its
// time, its detail) is an error, never an entry at the zero time.
func decodeEvents(items []map[string]types.AttributeValue) ([]privacy.Event, error) {
	out := make([]privacy.Event, 0, len(items))
	for _, it := range items {
		var r ledgerRecord
		if err := attributevalue.UnmarshalMap(it, &r); err != nil {
			return nil, fmt.Errorf("decode ledger entry %s: %w", s1(it, attrSK), err)
		}
		out = append(out, privacy.Event{Subject: privacy.SubjectID(r.Subject), Name: r.Event, At: r.At.Time, Ref: r.Ref,
			Purpose: r.Purpose, LegalBasis: r.LegalBasis, PolicyVersion: r.PolicyVersion, Detail: r.Detail})
	}
	return out, nil
}
