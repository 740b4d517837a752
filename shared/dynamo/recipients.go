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
)

// Processor is a downstream processor of the site's data (a recipient,
// GDPR Art. 19): an OpenDSR endpoint the company, as controller, tells of
// every erasure it carries out. In the ops table under pk "PROC#", sk its
// id; the template denies writes under "PROC#" to every internet-facing
// function, so only the operator registers one. Its credentials are
// stored sealed (recipients.Seal), never in the clear.
type Processor struct {
	ID   string `dynamodbav:"processor_id"`
	Name string `dynamodbav:"name"`
	// URL is the base of its OpenDSR v2 API (…/opendsr/v2): requests are
	// posted to URL+"/requests".
	URL string `dynamodbav:"url"`
	// Credentials are its HTTP Basic credentials, sealed.
	Credentials string `dynamodbav:"credentials_sealed"`
	// Certificate is the PEM certificate whose key signs its responses.
	Certificate string `dynamodbav:"certificate_pem"`
	// IdentityFormat is how the person is named to it: "sha256" of the
	// normalised address, or "raw" when that is all it takes.
	IdentityFormat string   `dynamodbav:"identity_format"`
	Types          []string `dynamodbav:"types,stringset"`
	CreatedAt      string   `dynamodbav:"created_at"`
}

// ProcessorPrefix is the partition of the processors' list in the ops table.
const ProcessorPrefix = "PROC#"

// PutProcessor registers a processor (or replaces its registration).
func (s *Store) PutProcessor(ctx context.Context, p Processor, at time.Time) error {
	p.CreatedAt = ts(at)
	item, err := attributevalue.MarshalMap(p)
	if err != nil {
		return fmt.Errorf("marshal processor: %w", err)
	}
	item[attrPK], item[attrSK] = str(ProcessorPrefix), str(p.ID)
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ops, Item: item}); err != nil {
		return fmt.Errorf("put processor: %w", err)
	}
	return nil
}

// RemoveProcessor ends a registration; ErrNotFound when there is none.
// Deliveries already queued for it still go.
func (s *Store) RemoveProcessor(ctx context.Context, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.tables.Ops,
		Key:                 map[string]types.AttributeValue{attrPK: str(ProcessorPrefix), attrSK: str(id)},
		ConditionExpression: aws.String("attribute_exists(pk)")})
	if isConditionFailed(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("remove processor: %w", err)
	}
	return nil
}

// Processors lists the registered processors: one query.
func (s *Store) Processors(ctx context.Context) ([]Processor, error) {
	items, err := s.query(ctx, s.tables.Ops, ProcessorPrefix)
	if err != nil {
		return nil, fmt.Errorf("list processors: %w", err)
	}
	out := make([]Processor, 0, len(items))
	for _, it := range items {
		var p Processor
		if err := attributevalue.UnmarshalMap(it, &p); err != nil {
			return nil, fmt.Errorf("decode processor: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Recipient states: where telling one processor of one request stands.
const (
	RecipientQueued    = "queued"    // not tried yet
	RecipientRetrying  = "retrying"  // could not be told yet; retried with backoff
	RecipientSent      = "sent"      // it accepted the request (signed); its progress is polled
	RecipientCompleted = "completed" // it says it is done (signed)
	RecipientFailed    = "failed"    // refused, cancelled by it, or not reachable for GiveUp: the team's
)

// Statuses of delivery items on the requests table's by-status-due index:
// the open ones are due at due_at; the failed ones wait for the team (the
// deadline digest lists both); the closed ones are done.
const (
	DeliveryOpen   = "recipient_open"
	DeliveryFailed = "recipient_failed"
	DeliveryClosed = "recipient_closed"
)

// KindDelivery is a delivery item: telling one processor of one request,
// in the request's partition (pk "R#<request id>", sk "RCPT#<processor
// id>"), so it is written with the request's outcome in one transaction.
const KindDelivery = "recipient_delivery"

// Recipient is a request's summary of one delivery, on the request item
// (recipients.<processor id>): what the completion email, the status page
// and the export show.
type Recipient struct {
	Name  string `dynamodbav:"name"`
	State string `dynamodbav:"state"`
	At    string `dynamodbav:"at"`
}

// Delivery is telling one processor of one request. Identity is the
// person as the processor is told (IdentityFormat: sha256 or raw); it is
// removed once the processor has accepted the request, or it failed.
type Delivery struct {
	RequestID        string `dynamodbav:"id"`
	ProcessorID      string `dynamodbav:"processor_id"`
	ProcessorName    string `dynamodbav:"processor_name"`
	SubjectRequestID string `dynamodbav:"subject_request_id"`
	Type             string `dynamodbav:"type"`
	Regulation       string `dynamodbav:"regulation"`
	IdentityFormat   string `dynamodbav:"identity_format"`
	Identity         string `dynamodbav:"identity_value,omitempty"`
	State            string `dynamodbav:"state"`
	Attempts         int    `dynamodbav:"attempts"`
	// SubmittedAt is the request's submitted_time: every attempt sends
	// the same bytes, so a processor's retry detection sees one request.
	SubmittedAt time.Time `dynamodbav:"submitted_at"`
	// Due is when the delivery is next worked on (its due_at).
	Due time.Time `dynamodbav:"-"`
	// LastError says why the last attempt failed (an HTTP status, or
	// "unreachable", or "bad signature"): no one's data.
	LastError string `dynamodbav:"last_error,omitempty"`
	// Status is its by-status-due bucket (DeliveryOpen, …).
	Status string `dynamodbav:"status"`
}

func deliveryKey(requestID, processorID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("R#" + requestID), attrSK: str("RCPT#" + processorID)}
}

// deliveryPut is the write of a new delivery, due at once.
func (s *Store) deliveryPut(d Delivery, at time.Time) (types.TransactWriteItem, error) {
	d.State, d.Status, d.Due = RecipientQueued, DeliveryOpen, at
	item, err := attributevalue.MarshalMap(d)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshal delivery: %w", err)
	}
	for k, v := range deliveryKey(d.RequestID, d.ProcessorID) {
		item[k] = v
	}
	item["kind"], item["due_at"], item["updated_at"] = str(KindDelivery), str(dueAt(at)), str(ts(at))
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Requests, Item: item}}, nil
}

func dueAt(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func decodeDelivery(it map[string]types.AttributeValue) (Delivery, error) {
	var d Delivery
	if err := attributevalue.UnmarshalMap(it, &d); err != nil {
		return d, fmt.Errorf("decode delivery: %w", err)
	}
	if v, ok := it["due_at"].(*types.AttributeValueMemberS); ok {
		d.Due, _ = time.Parse(time.RFC3339, v.Value)
	}
	return d, nil
}

// Deliveries returns the deliveries in a status bucket due at or before
// until, earliest first (by-status-due).
func (s *Store) Deliveries(ctx context.Context, status string, until time.Time) ([]Delivery, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression:    aws.String("#s = :s AND due_at <= :until"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(status), ":until": str(dueAt(until))}})
	if err != nil {
		return nil, fmt.Errorf("deliveries %s: %w", status, err)
	}
	out := make([]Delivery, 0, len(items))
	for _, it := range items {
		d, err := decodeDelivery(it)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ClaimDelivery leases d until: its due_at moves there, on the condition
// that it is still what was read. Two runs never work on one delivery;
// otherwise ErrStale.
func (s *Store) ClaimDelivery(ctx context.Context, d Delivery, until time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: deliveryKey(d.RequestID, d.ProcessorID),
		UpdateExpression:         aws.String("SET due_at = :until"),
		ConditionExpression:      aws.String("#s = :open AND due_at = :was"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": str(dueAt(until)), ":open": str(DeliveryOpen),
			":was": str(dueAt(d.Due))}})
	if isConditionFailed(err) {
		return ErrStale
	}
	if err != nil {
		return fmt.Errorf("claim delivery: %w", err)
	}
	return nil
}

// SaveDelivery records an attempt's result: the delivery's new state,
// and the request's summary of it, in one transaction. A closed or
// failed delivery keeps no identity.
func (s *Store) SaveDelivery(ctx context.Context, d Delivery, at time.Time) error {
	set := "SET #st = :st, #s = :s, attempts = :n, due_at = :due, updated_at = :at, last_error = :err"
	if d.State != RecipientQueued && d.State != RecipientRetrying {
		set += " REMOVE identity_value" // accepted, or given up: never sent again
	}
	sum, err := attributevalue.Marshal(Recipient{Name: d.ProcessorName, State: d.State, At: ts(at)})
	if err != nil {
		return fmt.Errorf("marshal recipient: %w", err)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: &s.tables.Requests, Key: deliveryKey(d.RequestID, d.ProcessorID),
			UpdateExpression: aws.String(set), ConditionExpression: aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames: map[string]string{"#st": "state", "#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":st": str(d.State), ":s": str(d.Status),
				":n": num(int64(d.Attempts)), ":due": str(dueAt(d.Due)), ":at": str(ts(at)), ":err": str(d.LastError)}}},
		{Update: &types.Update{TableName: &s.tables.Requests, Key: requestKey(d.RequestID),
			UpdateExpression: aws.String("SET recipients.#p = :sum"), ConditionExpression: aws.String("attribute_exists(recipients)"),
			ExpressionAttributeNames:  map[string]string{"#p": d.ProcessorID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":sum": sum}}},
	}})
	if err != nil {
		return fmt.Errorf("save delivery: %w", err)
	}
	return nil
}

// ReleaseHeldMail makes a request's held email due (mail_pending becomes
// mail_due) once every recipient has been tried, so the completion email
// can say where each one stands. It is a no-op when nothing is held or a
// recipient is still queued. It reports whether it released the email.
func (s *Store) ReleaseHeldMail(ctx context.Context, requestID string) (bool, error) {
	r, err := s.Request(ctx, requestID)
	if err != nil {
		return false, err
	}
	if r.MailPending == "" || len(r.Recipients) == 0 {
		return false, nil
	}
	// The condition names every recipient: a delivery saved meanwhile as
	// tried only makes it truer; one still queued keeps the email held.
	cond := []string{"mail_pending = :held"}
	names := map[string]string{"#st": "state"}
	ids := make([]string, 0, len(r.Recipients))
	for id := range r.Recipients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if r.Recipients[id].State == RecipientQueued {
			return false, nil
		}
		k := fmt.Sprintf("#p%d", i)
		names[k] = id
		cond = append(cond, "recipients."+k+".#st <> :queued")
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: requestKey(requestID),
		UpdateExpression:          aws.String("SET mail_due = mail_pending REMOVE mail_pending"),
		ConditionExpression:       aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":held": str(r.MailPending), ":queued": str(RecipientQueued)}})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("release held mail: %w", err)
	}
	return true, nil
}
