package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

const mailQueueDue = "mail"

// MailRetryKept is how long a retry entry may live at most (DynamoDB TTL
// removes one a mailer never finished): longer than any mailer's GiveUp.
const MailRetryKept = 8 * 24 * time.Hour

// MailRetryPrefix begins every mail retry's key (the template's grants
// name it).
const MailRetryPrefix = "MAILQ#"

// mailRetryPK is the retry's ops key: one per change.
func mailRetryPK(r privacy.MailRetry) string {
	h := sha256.New()
	for _, part := range []string{r.Source, r.Table, r.PK, r.SK, r.Due.String()} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return MailRetryPrefix + hex.EncodeToString(h.Sum(nil))
}

func mailRetryKey(r privacy.MailRetry) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(mailRetryPK(r)), attrSK: str("MAILQ")}
}

// QueueMail queues r (due at r.Next), unless it is queued already.
func (s *Store) QueueMail(ctx context.Context, r privacy.MailRetry) error {
	item := mailRetryKey(r)
	for k, v := range map[string]types.AttributeValue{"source": str(r.Source), "table_name": str(r.Table), "item_pk": str(r.PK),
		"item_sk": str(r.SK), "mail_due_value": str(r.Due.String()), "attempts": num(int64(r.Attempts)), "first_at": num(r.First.Unix()),
		"next_at": num(r.Next.Unix()), "due": str(mailQueueDue), "last_error": str(r.LastError),
		attrTTL: num(r.First.Add(MailRetryKept).Unix())} {
		item[k] = v
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ops, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("queue mail: %w", err)
	}
	return nil
}

// DueMail returns the retries due at now (the by-due index, then each
// entry read consistently).
func (s *Store) DueMail(ctx context.Context, now time.Time) ([]privacy.MailRetry, error) {
	keys, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ops, IndexName: aws.String("by-due"),
		KeyConditionExpression:    aws.String("due = :due AND next_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": str(mailQueueDue), ":now": num(now.Unix())}})
	if err != nil {
		return nil, fmt.Errorf("due mail: %w", err)
	}
	var out []privacy.MailRetry
	for _, k := range keys {
		got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{attrPK: k[attrPK], attrSK: k[attrSK]}})
		if err != nil {
			return nil, fmt.Errorf("due mail: %w", err)
		}
		if got.Item == nil {
			continue // done since the index was read
		}
		it := got.Item
		r := privacy.MailRetry{Source: s1(it, "source"), Table: s1(it, "table_name"), PK: s1(it, "item_pk"), SK: s1(it, "item_sk"),
			Due: privacy.ParseMailDue(s1(it, "mail_due_value")), LastError: s1(it, "last_error")}
		r.Attempts = int(n1(it, "attempts"))
		r.First, r.Next = time.Unix(n1(it, "first_at"), 0).UTC(), time.Unix(n1(it, "next_at"), 0).UTC()
		out = append(out, r)
	}
	return out, nil
}

// LeaseMail takes r for one try until until: its next_at moves there, on
// the condition that it is what was read. Two runs never try one retry at
// once; otherwise privacy.ErrStale.
func (s *Store) LeaseMail(ctx context.Context, r privacy.MailRetry, until time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: mailRetryKey(r),
		UpdateExpression:          aws.String("SET next_at = :until"),
		ConditionExpression:       aws.String("next_at = :was"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": num(until.Unix()), ":was": num(r.Next.Unix())}})
	if isConditionFailed(err) {
		return privacy.ErrStale
	}
	if err != nil {
		return fmt.Errorf("lease mail: %w", err)
	}
	return nil
}

// RetryMailLater records a failed try: r's attempts, next_at and error.
func (s *Store) RetryMailLater(ctx context.Context, r privacy.MailRetry) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: mailRetryKey(r),
		UpdateExpression: aws.String("SET attempts = :n, next_at = :next, last_error = :e"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(r.Attempts)), ":next": num(r.Next.Unix()),
			":e": str(r.LastError)}})
	if err != nil {
		return fmt.Errorf("retry mail later: %w", err)
	}
	return nil
}

// MailDone removes a retry: sent, superseded, or given up.
func (s *Store) MailDone(ctx context.Context, r privacy.MailRetry) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Ops, Key: mailRetryKey(r)}); err != nil {
		return fmt.Errorf("mail done: %w", err)
	}
	return nil
}

// ChangedItem reads the item a retry names, consistently, as the change
// its stream record was; false when it is gone.
func (s *Store) ChangedItem(ctx context.Context, r privacy.MailRetry) (privacy.Change, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{attrPK: str(r.PK), attrSK: str(r.SK)}})
	if err != nil {
		return privacy.Change{}, false, fmt.Errorf("read changed item: %w", err)
	}
	if out.Item == nil {
		return privacy.Change{}, false, nil
	}
	c := privacy.Change{Source: r.Source, PK: r.PK, SK: r.SK}
	decodeItem(&c, out.Item)
	return c, true, nil
}

func s1(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func n1(it map[string]types.AttributeValue, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}
