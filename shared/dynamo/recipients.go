package dynamo

import (
	"cmp"
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

// processorRecord is a registered processor (privacy.Processor) as kept
// in the ops table under pk "PROC#", sk its id; the template denies writes
// under "PROC#" to every internet-facing function, so only the operator
// registers one. Its credentials are stored sealed (recipients.Seal).
type processorRecord struct {
	ID             string   `dynamodbav:"processor_id"`
	Name           string   `dynamodbav:"name"`
	URL            string   `dynamodbav:"url"`
	Credentials    string   `dynamodbav:"credentials_sealed"`
	Certificate    string   `dynamodbav:"certificate_pem"`
	IdentityFormat string   `dynamodbav:"identity_format"`
	Types          []string `dynamodbav:"types,stringset"`
	CreatedAt      stamp    `dynamodbav:"created_at,omitempty"`
	Contact        string   `dynamodbav:"contact_email,omitempty"`
}

func (p processorRecord) domain() privacy.Processor {
	return privacy.Processor{ID: p.ID, Name: p.Name, URL: p.URL, Credentials: p.Credentials, Certificate: p.Certificate,
		IdentityFormat: p.IdentityFormat, Types: p.Types, CreatedAt: p.CreatedAt.Time, Contact: p.Contact}
}

// ProcessorPrefix is the partition of the processors' list in the ops table.
const ProcessorPrefix = "PROC#"

// RemoveProcessor ends a registration, with e (who ended it) in the
// ledger; privacy.ErrNotFound when there is none. Deliveries already
// queued for it still go (to the last contact the mailer saw it have,
// ProcessorSeenPK).
func (s *Store) RemoveProcessor(ctx context.Context, id string, e privacy.Event) error {
	items, err := s.withLedger(e, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.tables.Ops,
		Key:                 map[string]types.AttributeValue{attrPK: str(ProcessorPrefix), attrSK: str(id)},
		ConditionExpression: aws.String("attribute_exists(pk)")}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if refusedAt(err, 0) {
		return privacy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("remove processor: %w", err)
	}
	return nil
}

// ProcessorContact is the privacy contact address processor id has now:
// what the mailer sends its emails to. That of its registration; for a
// processor removed, the last one the mailer saw it have on the ops
// table's stream (ProcessorSeenPK, which only the mailer writes: review
// 12, the operator's role had put another address under the PROC#CONTACT
// this read before, untold). Only that attribute is read (the mailer's
// role may read no other of "PROC#"); "" when the processor is no longer
// registered and none was seen, or it has none.
func (s *Store) ProcessorContact(ctx context.Context, id string) (string, error) {
	for _, pk := range []string{ProcessorPrefix, ProcessorSeenPK} {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops,
			Key:                  map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(id)},
			ProjectionExpression: aws.String("contact_email"),
			ConsistentRead:       aws.Bool(true),
		})
		if err != nil {
			return "", fmt.Errorf("processor contact: %w", err)
		}
		if len(out.Item) > 0 {
			return s1(out.Item, "contact_email"), nil
		}
	}
	return "", nil
}

// ProcessorContactChangedAt is when the team last changed registered
// processor id's privacy contact address (ApproveProcessorAsk): a
// confirmation link minted before it was emailed to an address that is no
// longer the processor's. Only that attribute is read (the rights
// function's role may read no other of "PROC#" by GetItem); the zero time
// when it never changed or the processor is no longer registered.
func (s *Store) ProcessorContactChangedAt(ctx context.Context, id string) (time.Time, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops,
		Key:                  map[string]types.AttributeValue{attrPK: str(ProcessorPrefix), attrSK: str(id)},
		ProjectionExpression: aws.String("contact_changed_at"),
		ConsistentRead:       aws.Bool(true),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("processor contact changed: %w", err)
	}
	raw := s1(out.Item, "contact_changed_at")
	if raw == "" {
		return time.Time{}, nil
	}
	at, err := parseTS(raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("processor contact changed: %w", err)
	}
	return at, nil
}

// Processors lists the registered processors: one query.
func (s *Store) Processors(ctx context.Context) ([]privacy.Processor, error) {
	items, err := s.query(ctx, s.tables.Ops, ProcessorPrefix)
	if err != nil {
		return nil, fmt.Errorf("list processors: %w", err)
	}
	out := make([]privacy.Processor, 0, len(items))
	for _, it := range items {
		var p processorRecord
		if err := attributevalue.UnmarshalMap(it, &p); err != nil {
			return nil, fmt.Errorf("decode processor: %w", err)
		}
		out = append(out, p.domain())
	}
	return out, nil
}

// ProcessorsToTell lists the registered processors as an erasure needs
// them to queue its deliveries (id, name, identity format, types, the
// contact address of one told by email, its url only to tell the two
// kinds apart: a url is no secret): not
// their credentials or certificates, which the functions that do not
// deliver are not granted (the template's rights function may read only
// these attributes of "PROC#").
func (s *Store) ProcessorsToTell(ctx context.Context) ([]privacy.Processor, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ops,
		KeyConditionExpression: aws.String("pk = :pk"),
		// Select named: the grant requires it, and IAM sees no Select a
		// request does not send.
		Select:                    types.SelectSpecificAttributes,
		ProjectionExpression:      aws.String("processor_id, #n, identity_format, #t, contact_email, #u"),
		ExpressionAttributeNames:  map[string]string{"#n": "name", "#t": "types", "#u": "url"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(ProcessorPrefix)},
		ConsistentRead:            aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("list processors: %w", err)
	}
	out := make([]privacy.Processor, 0, len(items))
	for _, it := range items {
		var p processorRecord
		if err := attributevalue.UnmarshalMap(it, &p); err != nil {
			return nil, fmt.Errorf("decode processor: %w", err)
		}
		out = append(out, privacy.Processor{ID: p.ID, Name: p.Name, IdentityFormat: p.IdentityFormat, Types: p.Types,
			Contact: p.Contact, URL: p.URL})
	}
	return out, nil
}

// KindDelivery is a delivery item: telling one processor of one request,
// in the request's partition (pk "R#<request id>", sk "RCPT#<processor
// id>"), so it is written with the request's outcome in one transaction.
const KindDelivery = "recipient_delivery"

// deliveryRecord is a delivery (privacy.Delivery) as stored: telling one
// processor of one request, in the request's partition.
type deliveryRecord struct {
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
	SubmittedAt      string `dynamodbav:"submitted_at"`
	DueAt            string `dynamodbav:"due_at"`
	LastError        string `dynamodbav:"last_error,omitempty"`
	Status           string `dynamodbav:"status"`
	Contact          string `dynamodbav:"contact_email,omitempty"`
	LiftedAt         string `dynamodbav:"lifted_at,omitempty"`
}

func deliveryKey(requestID, processorID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("R#" + requestID), attrSK: str("RCPT#" + processorID)}
}

// deliveryPut is the write of a new delivery, in its state (queued when
// none is set) and status (open when none is set: a processor that could
// not be told is the team's at once), due at d.Due (at once when none is
// set). A delivery by email makes its email due (the mailer reads the
// requests table's stream).
func (s *Store) deliveryPut(d privacy.Delivery, at time.Time) (types.TransactWriteItem, error) {
	state, due := initialState(d), d.Due
	if due.IsZero() {
		due = at
	}
	item, err := marshalItem(deliveryRecord{RequestID: d.RequestID, ProcessorID: d.ProcessorID,
		ProcessorName: d.ProcessorName, SubjectRequestID: d.SubjectRequestID, Type: d.Type, Regulation: d.Regulation,
		IdentityFormat: d.IdentityFormat, Identity: d.Identity, State: state, Attempts: d.Attempts,
		SubmittedAt: ts(d.SubmittedAt), DueAt: dueAt(due), LastError: d.LastError, Status: cmp.Or(d.Status, privacy.DeliveryOpen),
		Contact: d.Contact})
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshal delivery: %w", err)
	}
	for k, v := range deliveryKey(d.RequestID, d.ProcessorID) {
		item[k] = v
	}
	item["kind"], item["updated_at"] = str(KindDelivery), str(ts(at))
	if d.ByEmail() {
		item[AttrMailDue] = str(privacy.Due(privacy.MailProcessor, "").String())
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Requests, Item: withDue(privacy.TableRequests, item)}}, nil
}

// initialState is the state a new delivery is written in: d's, queued
// when it names none.
func initialState(d privacy.Delivery) string {
	if d.State == "" {
		return privacy.RecipientQueued
	}
	return d.State
}

// dueAt is how a deadline is stored (due_at, extended_until: whole
// seconds, fixed width): the by-status-due index sorts on it.
func dueAt(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func decodeDelivery(it map[string]types.AttributeValue) (privacy.Delivery, error) {
	var r deliveryRecord
	if err := attributevalue.UnmarshalMap(it, &r); err != nil {
		return privacy.Delivery{}, fmt.Errorf("decode delivery: %w", err)
	}
	d := privacy.Delivery{RequestID: r.RequestID, ProcessorID: r.ProcessorID, ProcessorName: r.ProcessorName,
		SubjectRequestID: r.SubjectRequestID, Type: r.Type, Regulation: r.Regulation, IdentityFormat: r.IdentityFormat,
		Identity: r.Identity, State: r.State, Attempts: r.Attempts, LastError: r.LastError, Status: r.Status, Contact: r.Contact,
		Lifted: r.LiftedAt != ""}
	var err error
	if d.SubmittedAt, err = parseTS(r.SubmittedAt); err == nil {
		d.Due, err = parseTS(r.DueAt)
	}
	if err != nil {
		return d, fmt.Errorf("decode delivery: %w", err)
	}
	return d, nil
}

// Deliveries returns the deliveries in a status bucket due at or before
// until, earliest first (by-status-due).
func (s *Store) Deliveries(ctx context.Context, status string, until time.Time) ([]privacy.Delivery, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression:    aws.String("#s = :s AND due_at <= :until"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(status), ":until": str(dueAt(until))}})
	if err != nil {
		return nil, fmt.Errorf("deliveries %s: %w", status, err)
	}
	out := make([]privacy.Delivery, 0, len(items))
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
// otherwise privacy.ErrStale.
func (s *Store) ClaimDelivery(ctx context.Context, d privacy.Delivery, until time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: deliveryKey(d.RequestID, d.ProcessorID),
		UpdateExpression:         aws.String("SET due_at = :until"),
		ConditionExpression:      aws.String("#s = :open AND due_at = :was"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": str(dueAt(until)), ":open": str(privacy.DeliveryOpen),
			":was": str(dueAt(d.Due))}})
	if isConditionFailed(err) {
		return privacy.ErrStale
	}
	if err != nil {
		return fmt.Errorf("claim delivery: %w", err)
	}
	return nil
}

// SaveDelivery records an attempt's result: the delivery's new state,
// and the request's summary of it, in one transaction. A closed or
// failed delivery keeps no identity.
func (s *Store) SaveDelivery(ctx context.Context, d privacy.Delivery, at time.Time) error {
	set := "SET #st = :st, #s = :s, attempts = :n, due_at = :due, updated_at = :at, last_error = :err"
	if d.State != privacy.RecipientQueued && d.State != privacy.RecipientRetrying {
		set += " REMOVE identity_value" // accepted, or given up: never sent again
	}
	sum, err := marshalValue(recipientRecord{Name: d.ProcessorName, State: d.State, At: stamp{at}})
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

// DeliveryRefused records that the email telling a processor without an
// API of a request was refused for good by the mail service (an address
// SES will not send to: in its sandbox, one not verified): the delivery
// is made due now with why, so the recipients function moves it to the
// team's failed deliveries at its next run instead of 30 days later. A
// delivery no longer waiting for its processor is left alone.
func (s *Store) DeliveryRefused(ctx context.Context, requestID, processorID, why string, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: deliveryKey(requestID, processorID),
		UpdateExpression:          aws.String("SET due_at = :due, last_error = :why"),
		ConditionExpression:       aws.String("attribute_exists(contact_email) AND #st = :emailed"),
		ExpressionAttributeNames:  map[string]string{"#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": str(dueAt(at)), ":why": str(why), ":emailed": str(privacy.RecipientEmailed)}})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("delivery refused: %w", err)
	}
	return nil
}

// DeliveryMailed removes the person's address from a delivery whose email
// to its processor has gone: it was kept only to write that email.
func (s *Store) DeliveryMailed(ctx context.Context, requestID, processorID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: deliveryKey(requestID, processorID),
		UpdateExpression:    aws.String("REMOVE identity_value"),
		ConditionExpression: aws.String("attribute_exists(contact_email) AND attribute_exists(identity_value)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("delivery mailed: %w", err)
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
	if r.MailPending.IsZero() || len(r.Recipients) == 0 {
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
		if r.Recipients[id].State == privacy.RecipientQueued {
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":held": str(r.MailPending.String()), ":queued": str(privacy.RecipientQueued)}})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("release held mail: %w", err)
	}
	return true, nil
}

// ConfirmDelivery records that the processor told of a request by email
// confirmed it done: the delivery completed (closed on the deadline
// index, its identity removed), the request's summary of it, and e in the
// ledger, in one transaction. Confirming again changes nothing and is no
// error; privacy.ErrNotFound when there is no such delivery by email.
func (s *Store) ConfirmDelivery(ctx context.Context, requestID, processorID string, e privacy.Event) error {
	return s.confirmDelivery(ctx, requestID, processorID, e, false)
}

func (s *Store) confirmDelivery(ctx context.Context, requestID, processorID string, e privacy.Event, retried bool) error {
	key := deliveryKey(requestID, processorID)
	it, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Requests, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("confirm delivery: %w", err)
	}
	if len(it.Item) == 0 || s1(it.Item, "kind") != KindDelivery || s1(it.Item, "contact_email") == "" {
		return privacy.ErrNotFound
	}
	if s1(it.Item, "state") == privacy.RecipientCompleted {
		return nil
	}
	sum, err := marshalValue(recipientRecord{Name: s1(it.Item, "processor_name"), State: privacy.RecipientCompleted, At: stamp{e.At}})
	if err != nil {
		return fmt.Errorf("marshal recipient: %w", err)
	}
	// A restriction's lift told of after it (TellLift) waits for the
	// processor's mailbox with the person's address: the lift's email
	// removes it once sent, not this confirmation of the restriction.
	update, cond := "SET #st = :done, #s = :closed, updated_at = :at, last_error = :none REMOVE identity_value",
		"#st = :emailed AND attribute_exists(contact_email) AND attribute_not_exists(lifted_at)"
	if _, lifted := it.Item["lifted_at"]; lifted {
		update, cond = "SET #st = :done, #s = :closed, updated_at = :at, last_error = :none",
			"#st = :emailed AND attribute_exists(contact_email) AND attribute_exists(lifted_at)"
	}
	items, err := s.withLedger(e,
		types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Requests, Key: key,
			UpdateExpression:         aws.String(update),
			ConditionExpression:      aws.String(cond),
			ExpressionAttributeNames: map[string]string{"#st": "state", "#s": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":done": str(privacy.RecipientCompleted),
				":closed": str(privacy.DeliveryClosed), ":at": str(ts(e.At)), ":none": str(""), ":emailed": str(privacy.RecipientEmailed)}}},
		types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Requests, Key: requestKey(requestID),
			UpdateExpression: aws.String("SET recipients.#p = :sum"), ConditionExpression: aws.String("attribute_exists(recipients)"),
			ExpressionAttributeNames:  map[string]string{"#p": processorID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":sum": sum}}})
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if refusedAt(err, 0) && !retried {
		// Confirmed meanwhile (a double click: once is enough), or a lift
		// told of meanwhile: read again.
		return s.confirmDelivery(ctx, requestID, processorID, e, true)
	}
	if refusedAt(err, 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("confirm delivery: %w", err)
	}
	return nil
}

// TellProcessors queues the deliveries of a request decided outside
// fulfilment (a rectification the team applied) with the request's
// summary of them, in one transaction. Queued already (a rerun), it
// changes nothing.
func (s *Store) TellProcessors(ctx context.Context, requestID string, ds []privacy.Delivery, at time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	sums := map[string]types.AttributeValue{}
	var items []types.TransactWriteItem
	for _, d := range ds {
		put, err := s.deliveryPut(d, at)
		if err != nil {
			return err
		}
		put.Put.ConditionExpression = aws.String("attribute_not_exists(pk)")
		items = append(items, put)
		if sums[d.ProcessorID], err = marshalValue(recipientRecord{Name: d.ProcessorName, State: initialState(d), At: stamp{at}}); err != nil {
			return fmt.Errorf("marshal recipient: %w", err)
		}
	}
	items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Requests, Key: requestKey(requestID),
		UpdateExpression: aws.String("SET recipients = if_not_exists(recipients, :rcpt)"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":rcpt": &types.AttributeValueMemberM{Value: sums}}}})
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if refusedAt(err, 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tell processors: %w", err)
	}
	return nil
}

// TellLift tells each processor told of one of the person's restrictions
// requestIDs by email that it may process the person again (GDPR Art.
// 19), once the last restriction in force is lifted: a restriction lifted
// while another was in force told no one, so its processors are told now,
// with those of the last. Each processor is told once, through its
// delivery of the first of requestIDs in sorted order that told it (the
// same for two calls at once): that delivery is given the person's address
// again (as the processor holds them), lifted_at and the email's
// mail_due; the mailer sends it and
// strips the address again. Its other deliveries of requestIDs are marked
// lifted_at without an email (and lose any address still waiting to tell
// it of the restriction, now over). Only a processor told of a
// restriction (emailed, or confirmed it) and still registered is told; a
// delivery told of its lift already is left alone.
func (s *Store) TellLift(ctx context.Context, requestIDs []string, identity string, at time.Time) error {
	current, err := s.ProcessorsToTell(ctx)
	if err != nil {
		return fmt.Errorf("tell lift: %w", err)
	}
	registered := map[string]bool{}
	for _, p := range current {
		registered[p.ID] = true
	}
	// processors given their lift's email, by this call or by one
	// running at once (two members lifting the person's last two
	// restrictions): every call walks the deliveries in the same order, so
	// both reach a processor's first delivery first, and the one whose
	// conditional write loses counts that processor as told.
	told := map[string]bool{}
	for _, id := range slices.Sorted(slices.Values(requestIDs)) {
		items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests, ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :rcpt)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("R#" + id), ":rcpt": str("RCPT#")}})
		if err != nil {
			return fmt.Errorf("tell lift: %w", err)
		}
		for _, it := range items {
			// Only a processor told of the restriction (emailed, or
			// confirmed it) and still the company's: one removed since,
			// or whose email SES refused, is mailed nothing of the person.
			proc := strings.TrimPrefix(s1(it, attrSK), "RCPT#")
			state := s1(it, "state")
			if privacy.Right(s1(it, "type")) != privacy.RightRestriction || s1(it, "contact_email") == "" ||
				(state != privacy.RecipientEmailed && state != privacy.RecipientCompleted) || !registered[proc] {
				continue
			}
			if _, lifted := it["lifted_at"]; lifted {
				continue
			}
			key := map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}
			upd := &dynamodb.UpdateItemInput{TableName: &s.tables.Requests, Key: key,
				UpdateExpression:          aws.String("SET lifted_at = :at REMOVE identity_value"),
				ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(lifted_at)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":at": str(ts(at))}}
			if !told[proc] {
				upd.UpdateExpression = aws.String("SET identity_value = :id, lifted_at = :at, mail_due = :due")
				upd.ExpressionAttributeValues[":id"] = str(identity)
				upd.ExpressionAttributeValues[":due"] = str(privacy.Due(privacy.MailProcessorLifted, ts(at)).String())
			}
			if _, err := s.db.UpdateItem(ctx, upd); err != nil && !isConditionFailed(err) {
				return fmt.Errorf("tell lift: %w", err)
			}
			told[proc] = true
		}
	}
	return nil
}
