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

// ProcessorAskPK is the ops partition of the processor asks that wait
// for a second team member (privacy.ProcessorAsk): sk the processor's id
// (one ask per processor: a new one replaces it). Under "PROC#*", which
// every internet-facing function is denied to write; no function but the
// operator reads it. The table's TTL removes an ask some time after it
// lapsed; the approval checks the lapse itself.
const ProcessorAskPK = "PROC#ASK"

// KindContactNotice is the requests table's item that made the email to
// a processor's former contact address due (privacy.ContactNotice): its
// stream was the outbox. The approval no longer writes one (the ops
// table's stream tells every contact change, mailer.Watch); the mailer
// still sends one written before that change, until ContactNoticeKept. Under pk ContactNoticePrefix+<processor id>, sk
// the approved ask's id; the table's TTL removes it after
// ContactNoticeKept.
const KindContactNotice = "processor_contact_notice"

// ContactNoticePrefix begins a contact notice's partition.
const ContactNoticePrefix = "PROCNOTICE#"

// ContactNoticeKept is how long the notice's item (the former address)
// is kept: past the mailer's retries (MailRetryKept).
const ContactNoticeKept = MailRetryKept + 24*time.Hour

// processorAskRecord is an ask as stored: the processor's registration as
// it would be (processorRecord) and the ask.
type processorAskRecord struct {
	processorRecord
	AskID   string `dynamodbav:"ask_id"`
	Kind    string `dynamodbav:"ask_kind"`
	Was     string `dynamodbav:"was_contact,omitempty"`
	AskedBy string `dynamodbav:"asked_by"`
	AskedAt stamp  `dynamodbav:"asked_at"`
	Reason  string `dynamodbav:"reason"`
	Expires int64  `dynamodbav:"expires_at"`
}

func processorAskKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(ProcessorAskPK), attrSK: str(id)}
}

// AskProcessor records a, replacing any ask waiting for the same
// processor, with e (who asked, why; domains, never an address) in the
// ledger in the same write.
func (s *Store) AskProcessor(ctx context.Context, a privacy.ProcessorAsk, e privacy.Event) error {
	p := a.Processor
	item, err := marshalItem(processorAskRecord{processorRecord: processorRecord{ID: p.ID, Name: p.Name, URL: p.URL,
		Credentials: p.Credentials, Certificate: p.Certificate, IdentityFormat: p.IdentityFormat, Types: p.Types, Contact: p.Contact},
		AskID: a.ID, Kind: a.Kind, Was: a.Was, AskedBy: a.AskedBy, AskedAt: stamp{a.AskedAt}, Reason: a.Reason,
		Expires: a.AskedAt.Add(privacy.ProcessorAskLapses).Unix()})
	if err != nil {
		return fmt.Errorf("marshal processor ask: %w", err)
	}
	item[attrPK], item[attrSK] = str(ProcessorAskPK), str(p.ID)
	items, err := s.withLedger(e, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Ops, Item: item}})
	if err != nil {
		return err
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return fmt.Errorf("ask processor: %w", err)
	}
	return nil
}

// ProcessorAsks lists the asks waiting for a second member (lapsed ones
// included, until the TTL removes them): one query.
func (s *Store) ProcessorAsks(ctx context.Context) ([]privacy.ProcessorAsk, error) {
	items, err := s.query(ctx, s.tables.Ops, ProcessorAskPK)
	if err != nil {
		return nil, fmt.Errorf("processor asks: %w", err)
	}
	out := make([]privacy.ProcessorAsk, 0, len(items))
	for _, it := range items {
		var r processorAskRecord
		if err := attributevalue.UnmarshalMap(it, &r); err != nil {
			return nil, fmt.Errorf("decode processor ask: %w", err)
		}
		out = append(out, privacy.ProcessorAsk{ID: r.AskID, Kind: r.Kind, Was: r.Was, AskedBy: r.AskedBy, AskedAt: r.AskedAt.Time,
			Reason: r.Reason, Processor: r.processorRecord.domain()})
	}
	return out, nil
}

// ApproveProcessorAsk carries out a, with es (the approval's entries) in
// the ledger, in one transaction that ends the ask: only while a is the
// ask recorded for its processor and has not lapsed, and (a contact
// change) while the processor is registered with the contact a was asked
// over. The new contact is stamped contact_changed_at (the mailer keeps
// the last contact it saw, ProcessorSeenPK, for what waits for the
// processor after a removal). It writes no notice: the change of the PROC# item
// is on the ops table's stream, from which the mailer tells the team, the
// former address and the ledger (mailer.Watch), as it tells a change
// written by anything else.
// privacy.ErrNotFound when the ask is no longer recorded (approved,
// replaced, lapsed); privacy.ErrStale when the processor changed or was
// removed since it was asked, or (a registration) already exists.
func (s *Store) ApproveProcessorAsk(ctx context.Context, a privacy.ProcessorAsk, es ...privacy.Event) error {
	if len(es) == 0 {
		return fmt.Errorf("approve processor ask: no ledger entry")
	}
	at := es[0].At
	items := []types.TransactWriteItem{{Delete: &types.Delete{TableName: &s.tables.Ops, Key: processorAskKey(a.Processor.ID),
		ConditionExpression:       aws.String("ask_id = :id AND expires_at > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": str(a.ID), ":now": num(at.Unix())}}}}
	procKey := map[string]types.AttributeValue{attrPK: str(ProcessorPrefix), attrSK: str(a.Processor.ID)}
	switch a.Kind {
	case privacy.ProcessorAskAdd:
		p := a.Processor
		item, err := marshalItem(processorRecord{ID: p.ID, Name: p.Name, URL: p.URL, Credentials: p.Credentials,
			Certificate: p.Certificate, IdentityFormat: p.IdentityFormat, Types: p.Types, CreatedAt: stamp{at}, Contact: p.Contact})
		if err != nil {
			return fmt.Errorf("marshal processor: %w", err)
		}
		item[attrPK], item[attrSK] = str(ProcessorPrefix), str(p.ID)
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.tables.Ops, Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	case privacy.ProcessorAskContact:
		cond, vals := "attribute_exists(pk) AND attribute_not_exists(contact_email)", map[string]types.AttributeValue{
			":c": str(a.Processor.Contact), ":at": str(ts(at))}
		if a.Was != "" {
			cond, vals[":was"] = "attribute_exists(pk) AND contact_email = :was", str(a.Was)
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: &s.tables.Ops, Key: procKey,
			UpdateExpression:    aws.String("SET contact_email = :c, contact_changed_at = :at"),
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}})
	default:
		return fmt.Errorf("approve processor ask: unknown kind %q", a.Kind)
	}
	ledger, err := s.ledgerPuts(es)
	if err != nil {
		return err
	}
	items = append(items, ledger...)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	switch {
	case refusedAt(err, 0):
		return fmt.Errorf("the ask was approved, replaced or lapsed meanwhile: %w", privacy.ErrNotFound)
	case refusedAt(err, 1):
		return fmt.Errorf("processor %s changed or was removed since it was asked: %w", a.Processor.ID, privacy.ErrStale)
	case err != nil:
		return fmt.Errorf("approve processor ask: %w", err)
	}
	return nil
}

// decodeContactNotice reads a contact notice's item.
func decodeContactNotice(item map[string]types.AttributeValue) (privacy.ContactNotice, error) {
	n := privacy.ContactNotice{ProcessorID: s1(item, "processor_id"), ProcessorName: s1(item, "name"), To: s1(item, "contact_email"),
		NewDomain: s1(item, "new_domain")}
	at, err := parseTS(s1(item, "changed_at"))
	if err != nil {
		return privacy.ContactNotice{}, fmt.Errorf("contact notice: changed_at: %w", err)
	}
	n.ChangedAt = at
	if n.To == "" {
		return privacy.ContactNotice{}, fmt.Errorf("contact notice: no address")
	}
	return n, nil
}
