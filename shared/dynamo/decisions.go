package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Transition applies t with its ledger entry, in one transaction. When the
// request is no longer in one of t.From (decided by someone else first, or
// never in that state) it returns privacy.ErrStale and changes nothing.
func (s *Store) Transition(ctx context.Context, id string, t privacy.Transition, e privacy.Event) error {
	set := "SET decided_at = :now"
	names := map[string]string{"#s": "status"}
	vals := map[string]types.AttributeValue{":now": str(ts(e.At))}
	if !t.MailDue.IsZero() {
		set += ", mail_due = :due"
		vals[":due"] = str(t.MailDue.String())
	}
	var from []string
	for i, st := range t.From {
		k := fmt.Sprintf(":from%d", i)
		vals[k] = str(st)
		from = append(from, k)
	}
	finishes := t.Status == privacy.RequestCompleted || t.Status == privacy.RequestDenied || t.Status == privacy.RequestCancelled
	if t.Status != "" {
		set += ", #s = :status"
		vals[":status"] = str(t.Status)
	}
	if finishes {
		set += ", completed_at = if_not_exists(completed_at, :now)"
	}
	for attr, v := range map[string]string{"reason": t.Reason, "extension_reason": t.ExtensionReason, "decided_by": t.By} {
		if v != "" {
			set += ", " + attr + " = :" + attr
			vals[":"+attr] = str(v)
		}
	}
	if t.Lifted {
		set += ", lifted_at = :now"
	}
	if finishes || t.Lifted {
		// A finished or lifted request's address has 30 days left: the
		// sweep reads it at its next run and files it exactly.
		set += ", " + setDue(vals, requestKey(id), e.At)
	}
	if !t.Extend.IsZero() {
		set += ", original_due_at = if_not_exists(original_due_at, due_at), due_at = :ext, extended_until = :ext"
		vals[":ext"] = str(dueAt(t.Extend))
	}
	if len(from) == 0 {
		return fmt.Errorf("transition of %s: no starting status", id)
	}
	cond := "#s IN (" + strings.Join(from, ", ") + ")"
	items, err := s.withLedger(e, types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Requests,
		Key: requestKey(id), UpdateExpression: aws.String(set), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if lostRace(err) {
		return privacy.ErrStale
	}
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	return nil
}

func holdKey(subject privacy.SubjectID, hold string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(SubjectPK(subject)), attrSK: str(hold)}
}

// Restrict puts the subject under a restriction of processing (GDPR Art.
// 18): a HOLD#RESTRICTION item in its partition, listed in the sparse holds
// index. The sweep keeps the subject's data, the mailer sends no marketing
// and no sales notification, the campaign skips it. Idempotent.
func (s *Store) Restrict(ctx context.Context, subject privacy.SubjectID, requestID string, e privacy.Event) error {
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		s.restriction(subject, requestID, e.At), {Put: ledger}}})
	if err != nil {
		return fmt.Errorf("restrict: %w", err)
	}
	return nil
}

// restriction is the write that puts subject under requestID's
// restriction of processing.
func (s *Store) restriction(subject privacy.SubjectID, requestID string, at time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Subjects, Key: holdKey(subject, privacy.HoldRestriction),
		UpdateExpression: aws.String("SET list_pk = :holds, list_sk = :pk, request_id = :r, " +
			"restricted_at = if_not_exists(restricted_at, :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":holds": str(privacy.HoldsList),
			":pk": str(SubjectPK(subject)), ":r": str(requestID), ":now": str(ts(at))}}}
}

// Lift ends a restriction of processing, with its ledger entry.
func (s *Store) Lift(ctx context.Context, subject privacy.SubjectID, e privacy.Event) error {
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.tables.Subjects, Key: holdKey(subject, privacy.HoldRestriction)}},
		{Put: ledger},
	}})
	if err != nil {
		return fmt.Errorf("lift restriction: %w", err)
	}
	return nil
}

// Restriction returns the id of the request that restricted the subject's
// processing, or "" when it is not restricted.
func (s *Store) Restriction(ctx context.Context, subject privacy.SubjectID) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects,
		Key: holdKey(subject, privacy.HoldRestriction), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("request_id")})
	if err != nil {
		return "", fmt.Errorf("restriction check: %w", err)
	}
	if out.Item == nil {
		return "", nil
	}
	if id, ok := out.Item["request_id"].(*types.AttributeValueMemberS); ok && id.Value != "" {
		return id.Value, nil
	}
	return "unknown", nil
}
