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

// A processor's mailbox (one told by email) is written to at most once a
// period. Its ops items, under pk "PMBOX#<processor id>" (ids only, no
// person):
//   - sk "WINDOW": until (epoch seconds), the end of the period the last
//     email opened; while requests wait for the next email, due
//     "mailbox" and next_at = until put it in the by-due index, and
//     held_at says when the last one was held;
//   - sk "R#<request id>": a request whose email waits for the next one.
const (
	// MailboxPrefix starts a processor's mailbox items' pk.
	MailboxPrefix = "PMBOX#"
	mailboxDue    = "mailbox"
	mailboxWindow = "WINDOW"
	// mailboxKeep outlives any period: the items are deleted when their
	// email goes, and expire should a processor be removed meanwhile.
	mailboxKeep = 60 * 24 * time.Hour
)

func mailboxKey(processorID, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(MailboxPrefix + processorID), attrSK: str(sk)}
}

// ClaimMailbox opens the processor's next period, until now+every, when
// the last one has ended: true when the caller may send it one email now.
func (s *Store) ClaimMailbox(ctx context.Context, processorID string, now time.Time, every time.Duration) (bool, error) {
	end := now.Add(every)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: mailboxKey(processorID, mailboxWindow),
		UpdateExpression:         aws.String("SET #until = :end, expires_at = :exp, next_at = :end"),
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR #until <= :now"),
		ExpressionAttributeNames: map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":end": num(end.Unix()), ":now": num(now.Unix()),
			":exp": num(end.Add(mailboxKeep).Unix())}})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim mailbox: %w", err)
	}
	return true, nil
}

// HoldForMailbox keeps a request's email for the processor's next one
// and makes the mailbox due at the end of its period.
func (s *Store) HoldForMailbox(ctx context.Context, processorID, requestID string, now time.Time) error {
	exp := num(now.Add(mailboxKeep).Unix())
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.tables.Ops, Item: map[string]types.AttributeValue{
			attrPK: str(MailboxPrefix + processorID), attrSK: str("R#" + requestID), "expires_at": exp}}},
		{Update: &types.Update{TableName: &s.tables.Ops, Key: mailboxKey(processorID, mailboxWindow),
			UpdateExpression:          aws.String("SET due = :due, next_at = #until, held_at = :now"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames:  map[string]string{"#until": "until"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":due": str(mailboxDue), ":now": num(now.UnixNano())}}},
	}})
	if err != nil {
		return fmt.Errorf("hold for mailbox: %w", err)
	}
	return nil
}

// MailboxesDue lists the processors whose held requests wait for a period
// that has ended, from the sparse by-due index.
func (s *Store) MailboxesDue(ctx context.Context, now time.Time) ([]string, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ops, IndexName: aws.String("by-due"),
		KeyConditionExpression:    aws.String("due = :due AND next_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": str(mailboxDue), ":now": num(now.Unix())}})
	if err != nil {
		return nil, fmt.Errorf("mailboxes due: %w", err)
	}
	var out []string
	for _, it := range items {
		if id, ok := strings.CutPrefix(s1(it, attrPK), MailboxPrefix); ok && id != "" {
			out = append(out, id)
		}
	}
	return out, nil
}

// MailboxHeld lists the requests held for the processor's next email and
// when the last was held (for MailboxSent).
func (s *Store) MailboxHeld(ctx context.Context, processorID string) (requestIDs []string, heldAt string, err error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ops, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(MailboxPrefix + processorID)}})
	if err != nil {
		return nil, "", fmt.Errorf("mailbox held: %w", err)
	}
	for _, it := range items {
		switch sk := s1(it, attrSK); {
		case sk == mailboxWindow:
			if n, ok := it["held_at"].(*types.AttributeValueMemberN); ok {
				heldAt = n.Value
			}
		case strings.HasPrefix(sk, "R#"):
			requestIDs = append(requestIDs, sk[2:])
		}
	}
	return requestIDs, heldAt, nil
}

// MailboxSent ends the wait of requestIDs (their email has gone) and,
// unless another was held since heldAt, takes the mailbox out of the
// index.
func (s *Store) MailboxSent(ctx context.Context, processorID string, requestIDs []string, heldAt string) error {
	for _, id := range requestIDs {
		if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Ops, Key: mailboxKey(processorID, "R#"+id)}); err != nil {
			return fmt.Errorf("mailbox sent: %w", err)
		}
	}
	cond, vals := "attribute_exists(pk) AND attribute_not_exists(held_at)", map[string]types.AttributeValue(nil)
	if heldAt != "" {
		cond, vals = "attribute_exists(pk) AND held_at = :h", map[string]types.AttributeValue{":h": &types.AttributeValueMemberN{Value: heldAt}}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: mailboxKey(processorID, mailboxWindow),
		UpdateExpression: aws.String("REMOVE due, held_at"), ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals})
	if isConditionFailed(err) {
		return nil // held again meanwhile: the next period's email takes it
	}
	if err != nil {
		return fmt.Errorf("mailbox sent: %w", err)
	}
	return nil
}

// Delivery reads a request's delivery to a processor; privacy.ErrNotFound
// when there is none.
func (s *Store) Delivery(ctx context.Context, requestID, processorID string) (privacy.Delivery, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Requests, Key: deliveryKey(requestID, processorID),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return privacy.Delivery{}, fmt.Errorf("delivery: %w", err)
	}
	if len(out.Item) == 0 {
		return privacy.Delivery{}, privacy.ErrNotFound
	}
	return decodeDelivery(out.Item)
}
