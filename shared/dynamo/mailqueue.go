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
)

// MailRetry is a change whose email could not be sent for a reason that
// passes (SES throttling or unreachable, another mailer holding the
// send): it is retried from the ops table, with backoff, instead of
// holding the stream's shard, so an outage longer than the stream's own
// retries loses nothing. It names the changed item by its key and the
// stream it came on (its sent-markers' key); the retry reads the item
// again, so an item erased meanwhile sends nothing. In the ops table
// under "MAILQ#<hash>", due in the by-due index under "mail".
type MailRetry struct {
	Source   string // the stream ARN the change came on
	Table    string // the changed item's table
	PK, SK   string
	Due      string // its mail_due
	Attempts int
	First    time.Time
	Next     time.Time
	// LastError is why the last try failed (no one's data).
	LastError string
}

const mailQueueDue = "mail"

// MailRetryKept is how long a retry entry may live at most (DynamoDB TTL
// removes one a mailer never finished): longer than any mailer's GiveUp.
const MailRetryKept = 8 * 24 * time.Hour

// Key is the retry's ops key: one per change.
func (r MailRetry) Key() string {
	h := sha256.New()
	for _, part := range []string{r.Source, r.Table, r.PK, r.SK, r.Due} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "MAILQ#" + hex.EncodeToString(h.Sum(nil))
}

func mailRetryKey(r MailRetry) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(r.Key()), attrSK: str("MAILQ")}
}

// QueueMail queues r (due at r.Next), unless it is queued already.
func (s *Store) QueueMail(ctx context.Context, r MailRetry) error {
	item := mailRetryKey(r)
	for k, v := range map[string]types.AttributeValue{"source": str(r.Source), "table_name": str(r.Table), "item_pk": str(r.PK),
		"item_sk": str(r.SK), "mail_due_value": str(r.Due), "attempts": num(int64(r.Attempts)), "first_at": num(r.First.Unix()),
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
func (s *Store) DueMail(ctx context.Context, now time.Time) ([]MailRetry, error) {
	keys, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ops, IndexName: aws.String("by-due"),
		KeyConditionExpression:    aws.String("due = :due AND next_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": str(mailQueueDue), ":now": num(now.Unix())}})
	if err != nil {
		return nil, fmt.Errorf("due mail: %w", err)
	}
	var out []MailRetry
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
		r := MailRetry{Source: s1(it, "source"), Table: s1(it, "table_name"), PK: s1(it, "item_pk"), SK: s1(it, "item_sk"),
			Due: s1(it, "mail_due_value"), LastError: s1(it, "last_error")}
		r.Attempts = int(n1(it, "attempts"))
		r.First, r.Next = time.Unix(n1(it, "first_at"), 0).UTC(), time.Unix(n1(it, "next_at"), 0).UTC()
		out = append(out, r)
	}
	return out, nil
}

// LeaseMail takes r for one try until until: its next_at moves there, on
// the condition that it is what was read. Two runs never try one retry at
// once; otherwise ErrStale.
func (s *Store) LeaseMail(ctx context.Context, r MailRetry, until time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: mailRetryKey(r),
		UpdateExpression:          aws.String("SET next_at = :until"),
		ConditionExpression:       aws.String("next_at = :was"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": num(until.Unix()), ":was": num(r.Next.Unix())}})
	if isConditionFailed(err) {
		return ErrStale
	}
	if err != nil {
		return fmt.Errorf("lease mail: %w", err)
	}
	return nil
}

// RetryMailLater records a failed try: r's attempts, next_at and error.
func (s *Store) RetryMailLater(ctx context.Context, r MailRetry) error {
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
func (s *Store) MailDone(ctx context.Context, r MailRetry) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Ops, Key: mailRetryKey(r)}); err != nil {
		return fmt.Errorf("mail done: %w", err)
	}
	return nil
}

// ChangedItem reads the item a retry names, consistently; nil when it is
// gone.
func (s *Store) ChangedItem(ctx context.Context, r MailRetry) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{attrPK: str(r.PK), attrSK: str(r.SK)}})
	if err != nil {
		return nil, fmt.Errorf("read changed item: %w", err)
	}
	return out.Item, nil
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
