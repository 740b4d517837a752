// Package dynamo stores the privacy domain in DynamoDB. Every item of
// personal data sits in the partition of its subject ("S#<subject hash>"),
// so reading or erasing one person is a Query on one partition, never a scan.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Tables names the tables a Store uses; an empty name is a table it does
// not touch. The template's Globals name every table to every function
// (some blank the ones they never use): what a function may do with each
// is its IAM role's, not this list's.
type Tables struct {
	Subjects    string // personal data, keyed by subject hash
	Ledger      string // append-only consent and processing events
	Suppression string // subject hashes never to be mailed marketing
	Requests    string // rights requests
	// PlatformRequests holds the Platform's (OpenDSR) requests, apart from
	// the site's: set for the maintenance commands that reach both. The
	// Platform's own functions see it as their Requests.
	PlatformRequests string
	Ops              string // operational state: sent-markers, counters, checkpoints
	// Records holds what controllers handed this system as their
	// processor (the Platform): never the site's data, never read by it.
	Records string
	// LedgerRoots holds each sealed day's signed root and leaves; only
	// the ledger's signer writes it.
	LedgerRoots string
}

// Store is the DynamoDB adapter.
type Store struct {
	db     *dynamodb.Client
	tables Tables
}

// New returns a Store over db.
func New(db *dynamodb.Client, t Tables) *Store { return &Store{db: db, tables: t} }

// Attribute names shared by every table.
const (
	attrPK  = "pk"
	attrSK  = "sk"
	attrTTL = "expires_at" // epoch seconds; the tables' TTL attribute
	// AttrMailDue names the email a change makes due. The mailer's stream
	// filter selects on it, so only such changes invoke the mailer.
	AttrMailDue = "mail_due"
	// AttrReplayedAt marks an item replayed (privacyctl replay): setting
	// it is a change on the table's stream, which makes the item's email
	// and status change due again (privacy.Change.Replayed).
	AttrReplayedAt = "replayed_at"
)

// Item kinds, stored in "kind".
const (
	KindInquiry = "inquiry"
)

// SubjectPK is the partition key of a subject's items.
func SubjectPK(s privacy.SubjectID) string { return "S#" + string(s) }

type metaRecord struct {
	SourceIP       string `dynamodbav:"source_ip,omitempty"`
	UserAgent      string `dynamodbav:"user_agent,omitempty"`
	AcceptLanguage string `dynamodbav:"accept_language,omitempty"`
	Referrer       string `dynamodbav:"referrer,omitempty"`
	ReceivedAt     string `dynamodbav:"received_at"`
}

// inquirySKPrefix starts every inquiry's sort key.
const inquirySKPrefix = "INQ#"

type inquiryRecord struct {
	PK             string      `dynamodbav:"pk"`
	SK             string      `dynamodbav:"sk"`
	Kind           string      `dynamodbav:"kind"`
	ID             string      `dynamodbav:"id"`
	Subject        string      `dynamodbav:"subject"`
	Name           string      `dynamodbav:"name"`
	Email          string      `dynamodbav:"email"`
	Company        string      `dynamodbav:"company,omitempty"`
	Phone          string      `dynamodbav:"phone,omitempty"`
	Topic          string      `dynamodbav:"topic"`
	Message        string      `dynamodbav:"message"`
	MarketingOptIn bool        `dynamodbav:"marketing_opt_in"`
	Purpose        string      `dynamodbav:"purpose"`
	LegalBasis     string      `dynamodbav:"legal_basis"`
	PolicyVersion  string      `dynamodbav:"policy_version"`
	Lang           string      `dynamodbav:"lang,omitempty"`
	Meta           *metaRecord `dynamodbav:"meta,omitempty"`
	MetaExpiresAt  int64       `dynamodbav:"meta_expires_at,omitempty"`
	CreatedAt      string      `dynamodbav:"created_at"`
	LastActivityAt string      `dynamodbav:"last_activity_at"`
	ExpiresAt      int64       `dynamodbav:"expires_at"`
	MailDue        string      `dynamodbav:"mail_due,omitempty"`
	// AckHeld: no acknowledgement is sent (the sender's mailbox was past
	// its daily limit).
	AckHeld bool `dynamodbav:"ack_held,omitempty"`
}

type ledgerRecord struct {
	PK            string            `dynamodbav:"pk"`
	SK            string            `dynamodbav:"sk"`
	Subject       string            `dynamodbav:"subject"`
	Event         privacy.EventName `dynamodbav:"event"`
	At            stamp             `dynamodbav:"at"`
	Ref           string            `dynamodbav:"ref,omitempty"`
	Purpose       string            `dynamodbav:"purpose,omitempty"`
	LegalBasis    string            `dynamodbav:"legal_basis,omitempty"`
	PolicyVersion string            `dynamodbav:"policy_version,omitempty"`
	ExpiresAt     int64             `dynamodbav:"expires_at"`
	Detail        map[string]string `dynamodbav:"detail,omitempty"`
}

func inquirySK(i privacy.Inquiry) string {
	return inquirySKPrefix + ts(i.Meta.ReceivedAt) + "#" + i.ID
}

// SaveInquiry stores an inquiry: one conditional PutItem, no transaction.
// Its ledger entry (inquiry_received) is written from the inquiry's
// stream record by the mailer (RecordInquiry), whose retries, failure
// queue and privacyctl replay make it certain for every inquiry stored.
func (s *Store) SaveInquiry(ctx context.Context, i privacy.Inquiry) error {
	_, err := s.SaveInquiryWithSignup(ctx, i, nil)
	return err
}

// SaveInquiryWithSignup stores an inquiry and, when optIn is set, the
// newsletter signup its box asked for, in one transaction: a visitor told
// "received" never loses the opt-in to a failed second write. When only the
// signup's condition fails (already confirmed, or a confirmation went out
// within the cooldown), the inquiry is stored alone: that signup would
// have changed nothing. It reports whether a confirmation is due. The
// inquiry's ledger entry is not written here in either case: the mailer
// writes it from the inquiry's stream record (RecordInquiry); the signup's
// entry stays in the signup's transaction.
func (s *Store) SaveInquiryWithSignup(ctx context.Context, i privacy.Inquiry, optIn *privacy.PendingSignup) (bool, error) {
	at := ts(i.Meta.ReceivedAt)
	rec := inquiryRecord{
		PK: SubjectPK(i.Subject), SK: inquirySK(i), Kind: KindInquiry, ID: i.ID, Subject: string(i.Subject),
		Name: i.Form.Name, Email: i.Form.Email, Company: i.Form.Company, Phone: i.Form.Phone,
		Topic: i.Form.Topic, Message: i.Form.Message, MarketingOptIn: i.Form.MarketingOptIn,
		Purpose: i.Purpose, LegalBasis: i.LegalBasis, PolicyVersion: i.PolicyVersion, Lang: i.Lang,
		Meta: &metaRecord{SourceIP: i.Meta.SourceIP, UserAgent: i.Meta.UserAgent,
			AcceptLanguage: i.Meta.AcceptLanguage, Referrer: i.Meta.Referrer, ReceivedAt: at},
		MetaExpiresAt: i.MetaExpiresAt.Unix(), CreatedAt: at, LastActivityAt: at,
		ExpiresAt: i.ExpiresAt.Unix(), MailDue: privacy.Due(privacy.MailInquiry, "").String(), AckHeld: i.AckHeld,
	}
	item, err := marshalItem(rec)
	if err != nil {
		return false, fmt.Errorf("marshal inquiry: %w", err)
	}
	inquiry := &types.Put{TableName: &s.tables.Subjects, Item: withDue(privacy.TableSubjects, item),
		ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if optIn != nil {
		signup, err := s.signupItems(*optIn)
		if err != nil {
			return false, err
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: append([]types.TransactWriteItem{{Put: inquiry}}, signup...)})
		if err == nil {
			return true, nil
		}
		if !onlySignupRefused(err, 1) {
			return false, fmt.Errorf("save inquiry with signup: %w", err)
		}
	}
	if _, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: inquiry.TableName, Item: inquiry.Item,
		ConditionExpression: inquiry.ConditionExpression}); err != nil {
		return false, fmt.Errorf("save inquiry: %w", err)
	}
	return false, nil
}

// EventInquiryReceived is the ledger entry of an inquiry stored.
const EventInquiryReceived privacy.EventName = "inquiry_received"

// InquiryReceived is the ledger event of an inquiry stored: the entry
// RecordInquiry writes.
func InquiryReceived(i privacy.Inquiry) privacy.Event {
	return privacy.Event{Subject: i.Subject, Name: EventInquiryReceived, At: i.Meta.ReceivedAt, Ref: i.ID,
		Purpose: i.Purpose, LegalBasis: i.LegalBasis, PolicyVersion: i.PolicyVersion}
}

// RecordInquiry writes an inquiry's ledger entry, inquiry_received: the
// key and attributes the inquiry determines (the sort key its time, event
// and id), by RecordEntry. The mailer calls it for each inquiry's stream
// record.
func (s *Store) RecordInquiry(ctx context.Context, i privacy.Inquiry, now time.Time) error {
	return s.RecordEntry(ctx, InquiryReceived(i), now)
}

// RecordEntry writes e's ledger entry, sealed with now's day, the day it
// is written (a write retried after e's day was sealed joins the day it is
// written, so no sealed day gains an entry). It is a conditional put: an
// entry already there (a record delivered again, a replay) is done, not an
// error, and is left as it is. The mailer writes an inquiry's and a site
// rights request's entry with it, from their stream records.
func (s *Store) RecordEntry(ctx context.Context, e privacy.Event, now time.Time) error {
	item, err := ledgerItem(e)
	if err != nil {
		return err
	}
	return s.putOnce(ctx, item, e.Name, now)
}

// putOnce writes the ledger entry item of event name once, sealed with
// now's day, the day it is written: an entry already under its key is
// done, not an error.
func (s *Store) putOnce(ctx context.Context, item map[string]types.AttributeValue, name privacy.EventName, now time.Time) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ledger,
		Item:                sealEntryOn(withDue(privacy.TableLedger, item), ledger.Day(ts(now))),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("record %s: %w", name, err)
	}
	return nil
}

// recordMissingEntries writes, at now, the entry the mailer writes from a
// stream record (RecordEntry) of each inquiry among items (a subject's
// partition) and each site rights request among reqs (theirs) that
// entries (their ledger partition) lack, and returns the event and ref
// of each one it wrote. An erasure and a move call it before they weigh the ledger: an
// inquiry or a request whose entry the mailer has not written yet (its
// stream record still to come, or given up before a replay reached it)
// is then erased or moved with the rest, and never written later under
// the old key alone, with a detail the erasure removed, or not at all
// (review 11). A request's is written without its detail (the keyed
// hashes of those it names need the hasher, and an erasure redacts them
// anyway). Entries are matched by event and ref, so an entry whose time
// is in an older form is found too.
func (s *Store) recordMissingEntries(ctx context.Context, items []map[string]types.AttributeValue, reqs []privacy.RightsRequest,
	entries []map[string]types.AttributeValue, now time.Time) ([][2]string, error) {
	have := map[[2]string]bool{}
	for _, it := range entries {
		have[[2]string{s1(it, "event"), s1(it, "ref")}] = true
	}
	var missing []privacy.Event
	for _, it := range items {
		if s1(it, "kind") != KindInquiry || have[[2]string{string(EventInquiryReceived), s1(it, "id")}] {
			continue
		}
		inq, err := DecodeInquiry(it)
		if err != nil {
			return nil, err
		}
		missing = append(missing, InquiryReceived(inq))
	}
	for _, r := range reqs {
		if !r.ReceivedFromStream() || have[[2]string{string(privacy.EventRequestReceived), r.ID}] {
			continue
		}
		r.Email = "" // no detail
		missing = append(missing, privacy.RequestReceived(r, nil))
	}
	var wrote [][2]string
	for _, e := range missing {
		if err := s.RecordEntry(ctx, e, now); err != nil {
			return wrote, err
		}
		wrote = append(wrote, [2]string{string(e.Name), e.Ref})
	}
	return wrote, nil
}

// onlySignupRefused reports whether a transaction failed only on the
// condition of the signup's subscription (the item at index first).
func onlySignupRefused(err error, first int) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) || len(tc.CancellationReasons) <= first {
		return false
	}
	for i, r := range tc.CancellationReasons {
		code := aws.ToString(r.Code)
		if i == first && code != "ConditionalCheckFailed" || i != first && code != "" && code != "None" {
			return false
		}
	}
	return true
}

// DecodeInquiry reads an inquiry item, as stored or as a stream image.
func DecodeInquiry(item map[string]types.AttributeValue) (privacy.Inquiry, error) {
	var r inquiryRecord
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return privacy.Inquiry{}, fmt.Errorf("decode inquiry: %w", err)
	}
	if r.Kind != KindInquiry {
		return privacy.Inquiry{}, fmt.Errorf("decode inquiry: item kind %q", r.Kind)
	}
	i := privacy.Inquiry{
		ID: r.ID, Subject: privacy.SubjectID(r.Subject), Purpose: r.Purpose, LegalBasis: r.LegalBasis,
		PolicyVersion: r.PolicyVersion, Lang: r.Lang, ExpiresAt: time.Unix(r.ExpiresAt, 0).UTC(), AckHeld: r.AckHeld,
		Form: privacy.ContactForm{Name: r.Name, Email: r.Email, Company: r.Company, Phone: r.Phone,
			Topic: r.Topic, Message: r.Message, MarketingOptIn: r.MarketingOptIn},
	}
	if r.Meta != nil {
		i.Meta = privacy.RequestMeta{SourceIP: r.Meta.SourceIP, UserAgent: r.Meta.UserAgent,
			AcceptLanguage: r.Meta.AcceptLanguage, Referrer: r.Meta.Referrer}
	}
	if t, err := parseTS(r.CreatedAt); err == nil {
		i.Meta.ReceivedAt = t
	}
	if r.MetaExpiresAt > 0 {
		i.MetaExpiresAt = time.Unix(r.MetaExpiresAt, 0).UTC()
	}
	return i, nil
}

// SubjectItems returns every item in a subject's partition of the subjects
// table: one Query, paginated.
func (s *Store) SubjectItems(ctx context.Context, subject privacy.SubjectID) ([]map[string]types.AttributeValue, error) {
	return s.query(ctx, s.tables.Subjects, SubjectPK(subject))
}

// LedgerEntries returns a subject's ledger entries, oldest first.
func (s *Store) LedgerEntries(ctx context.Context, subject privacy.SubjectID) ([]map[string]types.AttributeValue, error) {
	return s.query(ctx, s.tables.Ledger, SubjectPK(subject))
}

func (s *Store) query(ctx context.Context, table, pk string) ([]map[string]types.AttributeValue, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName:                 &table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", table, err)
	}
	return items, nil
}

// queryAll runs a query and returns the items of every page.
func (s *Store) queryAll(ctx context.Context, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	p := dynamodb.NewQueryPaginator(s.db, in)
	var out []map[string]types.AttributeValue
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
	}
	return out, nil
}

// Ping checks that the subjects table can be reached.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.tables.Subjects})
	if err != nil {
		return fmt.Errorf("describe %s: %w", s.tables.Subjects, err)
	}
	return nil
}

// isConditionFailed reports whether err is a failed condition check.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
