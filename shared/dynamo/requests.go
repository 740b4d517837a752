package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// KindRequest is a rights request item: pk "R#<id>", sk "REQUEST", in the
// requests table. Its mail_due makes the mailer send the acknowledgement
// with the verification link ("received:<nonce>").
const (
	KindRequest     = "rights_request"
	requestSK       = "REQUEST"
	MailDueReceived = "received:"
	// MailDueReady makes the "your data is ready" email due (access and
	// portability, fulfilled at verification).
	MailDueReady = "ready:"
)

// RightsRequest is a stored rights request.
type RightsRequest struct {
	ID           string `dynamodbav:"id"`
	Kind         string `dynamodbav:"kind"`
	Subject      string `dynamodbav:"subject"`
	Email        string `dynamodbav:"email,omitempty"`
	Name         string `dynamodbav:"name,omitempty"`
	Type         string `dynamodbav:"type"`
	Details      string `dynamodbav:"details,omitempty"`
	Relationship string `dynamodbav:"relationship,omitempty"`
	Regulation   string `dynamodbav:"regulation"`
	Status       string `dynamodbav:"status"`
	ReceivedAt   string `dynamodbav:"received_at"`
	DueAt        string `dynamodbav:"due_at"`
	Extended     string `dynamodbav:"extended_until,omitempty"`
	CompletedAt  string `dynamodbav:"completed_at,omitempty"`
	VerifyNonce  string `dynamodbav:"verify_nonce,omitempty"`
	Excessive    bool   `dynamodbav:"possibly_excessive,omitempty"`
	Withheld     bool   `dynamodbav:"withheld,omitempty"`
	MailDue      string `dynamodbav:"mail_due,omitempty"`
}

func requestKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("R#" + id), attrSK: str(requestSK)}
}

// DecodeRequest reads a request item, as stored or as a stream image.
func DecodeRequest(item map[string]types.AttributeValue) (RightsRequest, error) {
	var r RightsRequest
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return r, fmt.Errorf("decode request: %w", err)
	}
	if r.Kind != KindRequest {
		return r, fmt.Errorf("decode request: item kind %q", r.Kind)
	}
	return r, nil
}

// SubjectRequests returns a subject's requests received since, newest first,
// from the by-subject index.
func (s *Store) SubjectRequests(ctx context.Context, subject privacy.SubjectID, since time.Time) ([]RightsRequest, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.tables.Requests, IndexName: aws.String("by-subject"),
		KeyConditionExpression:    aws.String("subject = :s AND received_at >= :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(string(subject)), ":since": str(ts(since))},
		ScanIndexForward:          aws.Bool(false),
	})
	var out []RightsRequest
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query subject requests: %w", err)
		}
		for _, it := range page.Items {
			r, err := DecodeRequest(it)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// CreateRequest stores a new request and its ledger entry.
func (s *Store) CreateRequest(ctx context.Context, r RightsRequest, e Event) error {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return fmt.Errorf("marshal request: %w", err)
	}
	for k, v := range requestKey(r.ID) {
		item[k] = v
	}
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.tables.Requests, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: ledger},
	}})
	if err != nil {
		return fmt.Errorf("create request: %w", err)
	}
	return nil
}

// Request returns one request.
func (s *Store) Request(ctx context.Context, id string) (RightsRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Requests, Key: requestKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return RightsRequest{}, fmt.Errorf("get request: %w", err)
	}
	if out.Item == nil {
		return RightsRequest{}, ErrNotFound
	}
	return DecodeRequest(out.Item)
}

// VerifyRequest marks the requester's identity verified: the link's nonce
// must be the current one, and it is used up. Verifying again is a no-op;
// a used or replaced link gives ErrStale.
//
// A request that verification fulfils at once (access and portability: the
// export is built when its link is opened) is completed in the same step,
// and its "data ready" email made due.
func (s *Store) VerifyRequest(ctx context.Context, id, nonce string, fulfilNow bool, e Event) error {
	set := "SET #s = :next, verified_at = :now, last_verify_nonce = :n"
	next := privacy.RequestPending
	vals := map[string]types.AttributeValue{":unverified": str(privacy.RequestIdentityUnverified),
		":n": str(nonce), ":now": str(ts(e.At))}
	if fulfilNow {
		next = privacy.RequestCompleted
		set += ", completed_at = :now, mail_due = :ready"
		vals[":ready"] = str(MailDueReady + nonce)
	}
	vals[":next"] = str(next)
	upd := &types.Update{TableName: &s.tables.Requests, Key: requestKey(id),
		UpdateExpression:          aws.String(set + " REMOVE verify_nonce"),
		ConditionExpression:       aws.String("#s = :unverified AND verify_nonce = :n"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: vals}
	ledger, err := s.ledgerPut(e)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: upd}, {Put: ledger}}})
	if err == nil {
		return nil
	}
	if !lostRace(err) {
		return fmt.Errorf("verify request: %w", err)
	}
	out, gerr := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Requests, Key: requestKey(id), ConsistentRead: aws.Bool(true)})
	if gerr != nil {
		return gerr
	}
	if v, ok := out.Item["last_verify_nonce"].(*types.AttributeValueMemberS); ok && v.Value == nonce {
		return nil // this very link verified it already
	}
	return ErrStale
}
