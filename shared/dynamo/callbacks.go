package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The OpenDSR callbacks' outbox: one cursor item per request and callback
// URL in the ops table (pk "CB#<controller>#<hash>", sk "CB"), holding the statuses not
// yet delivered, in order, and those delivered. While it has something to
// deliver it is in the sparse "by-due" index (due "callbacks", next_at),
// so a retry finds it by one query; a receiver that is down delays only
// its own cursors, never another controller's callbacks.

const (
	callbacksDue = "callbacks"
	callbackSK   = "CB"
)

// cursorRecord is a callback cursor (privacy.CallbackCursor) as stored.
type cursorRecord struct {
	Key       string   `dynamodbav:"pk"`
	RequestID string   `dynamodbav:"request_id"`
	URL       string   `dynamodbav:"callback_url"`
	Queue     []string `dynamodbav:"queue"` // statuses to deliver, oldest first
	Sent      []string `dynamodbav:"sent"`
	Attempts  int      `dynamodbav:"attempts"`
	// FirstFailedAt is when the failures in a row began (epoch seconds).
	FirstFailedAt int64 `dynamodbav:"first_failed_at,omitempty"`
}

// CallbackPrefix begins every callback cursor's key (the template's
// grants name it).
const CallbackPrefix = "CB#"

// CallbackKey is the cursor key of a request's callbacks to url: it names
// the request's controller, so the due cursors (read from a keys-only
// index) say whose they are.
func CallbackKey(controller, requestID, url string) string {
	h := sha256.Sum256([]byte(requestID + "\x00" + url))
	return CallbackPrefix + controller + "#" + hex.EncodeToString(h[:])
}

// callbackController is the controller a cursor key names ("" for a key
// written before keys named it).
func callbackController(key string) string {
	rest := strings.TrimPrefix(key, CallbackPrefix)
	if i := strings.LastIndexByte(rest, '#'); i >= 0 {
		return rest[:i]
	}
	return ""
}

func callbackItemKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(key), attrSK: str(callbackSK)}
}

// EnqueueCallback queues status for delivery to url of controller's
// request, unless it was queued or delivered before (a retried stream
// record queues nothing twice). The cursor is due at once, or at the end
// of a backoff it is already in.
func (s *Store) EnqueueCallback(ctx context.Context, controller, requestID, url, status string, now time.Time) error {
	key, exp := callbackItemKey(CallbackKey(controller, requestID, url)), privacy.Retention().CallbackCursor.From(now)
	vals := map[string]types.AttributeValue{":r": str(requestID), ":u": str(url),
		":s": &types.AttributeValueMemberL{Value: []types.AttributeValue{str(status)}}, ":status": str(status),
		":empty": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}, ":zero": num(0), ":due": str(callbacksDue),
		":now": num(now.Unix()), ":exp": num(exp.Unix())}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops,
		Key: key,
		UpdateExpression: aws.String("SET request_id = :r, callback_url = :u, queue = list_append(if_not_exists(queue, :empty), :s), " +
			"sent = if_not_exists(sent, :empty), attempts = if_not_exists(attempts, :zero), due = :due, " +
			"next_at = if_not_exists(next_at, :now), expires_at = :exp, " + setDueIfNone(vals, key, exp)),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR (NOT contains(queue, :status) AND NOT contains(sent, :status))"),
		ExpressionAttributeValues: vals})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("enqueue callback: %w", err)
	}
	return nil
}

// LeaseCallback takes the cursor key for delivery until now+lease and
// returns it; ok is false while another delivery holds it (one delivery at
// a time keeps the order) or while it backs off after a failure (next_at
// in the future: a new status does not bring a failing receiver's next
// attempt forward).
func (s *Store) LeaseCallback(ctx context.Context, key string, now time.Time, lease time.Duration) (c privacy.CallbackCursor, ok bool, err error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: callbackItemKey(key),
		UpdateExpression: aws.String("SET lease_until = :until"),
		ConditionExpression: aws.String("attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now) AND " +
			"(attribute_not_exists(next_at) OR next_at <= :now)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": num(now.Add(lease).Unix()),
			":now": num(now.Unix())},
		ReturnValues: types.ReturnValueAllNew})
	if isConditionFailed(err) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("lease callback: %w", err)
	}
	var rec cursorRecord
	if err := attributevalue.UnmarshalMap(out.Attributes, &rec); err != nil {
		return c, false, fmt.Errorf("decode callback cursor: %w", err)
	}
	return privacy.CallbackCursor(rec), true, nil
}

// CallbackSent records that status, the head of the queue, was delivered.
func (s *Store) CallbackSent(ctx context.Context, key, status string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: callbackItemKey(key),
		UpdateExpression:    aws.String("SET sent = list_append(sent, :s), attempts = :zero REMOVE queue[0], first_failed_at"),
		ConditionExpression: aws.String("queue[0] = :status"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberL{Value: []types.AttributeValue{str(status)}},
			":status": str(status), ":zero": num(0)}})
	if err != nil {
		return fmt.Errorf("callback sent: %w", err)
	}
	return nil
}

// CallbackFailed records a failed attempt and ends the lease: the cursor
// is due again at next, or, abandoned, leaves the due index for good (its
// statuses stay readable on the status route).
func (s *Store) CallbackFailed(ctx context.Context, key string, now, next time.Time, abandon bool) error {
	set := "SET attempts = attempts + :one, first_failed_at = if_not_exists(first_failed_at, :now), next_at = :next REMOVE lease_until"
	if abandon {
		set = "SET attempts = attempts + :one, abandoned_at = :now REMOVE lease_until, due, next_at"
	}
	vals := map[string]types.AttributeValue{":one": num(1), ":now": num(now.Unix())}
	if !abandon {
		vals[":next"] = num(next.Unix())
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: callbackItemKey(key),
		UpdateExpression: aws.String(set), ExpressionAttributeValues: vals})
	if err != nil {
		return fmt.Errorf("callback failed: %w", err)
	}
	return nil
}

// ReleaseCallback ends a lease after the queue was delivered. A cursor
// whose queue is empty leaves the due index; one that gained a status
// meanwhile stays due, and more is true.
func (s *Store) ReleaseCallback(ctx context.Context, key string) (more bool, err error) {
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: callbackItemKey(key),
		UpdateExpression:          aws.String("REMOVE lease_until, due, next_at"),
		ConditionExpression:       aws.String("size(queue) = :zero"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": num(0)}})
	if !isConditionFailed(err) {
		if err != nil {
			return false, fmt.Errorf("release callback: %w", err)
		}
		return false, nil
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: callbackItemKey(key),
		UpdateExpression: aws.String("REMOVE lease_until")})
	if err != nil {
		return false, fmt.Errorf("release callback: %w", err)
	}
	return true, nil
}

// DueCallbacks returns the cursors due at now, the longest due first,
// from the sparse by-due index (no scan).
func (s *Store) DueCallbacks(ctx context.Context, now time.Time) ([]privacy.DueCallback, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ops, IndexName: aws.String("by-due"),
		KeyConditionExpression: aws.String("due = :due AND next_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": str(callbacksDue),
			":now": num(now.Unix())}})
	if err != nil {
		return nil, fmt.Errorf("due callbacks: %w", err)
	}
	var due []privacy.DueCallback
	for _, it := range items {
		if pk, ok := it[attrPK].(*types.AttributeValueMemberS); ok {
			due = append(due, privacy.DueCallback{Key: pk.Value, Controller: callbackController(pk.Value)})
		}
	}
	return due, nil
}
