package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The policy's published versions are ops items, pk "POLICY", sk the
// version: written once (never rewritten), with how their notices stand.
// A notice due to one person is an item of their partition, sk
// "NOTICE#<version>#<address digest>", whose mail_due makes the mailer send
// it: written once per person, so a planner run again sends nothing twice.
const (
	policyPK   = "POLICY"
	KindNotice = "policy_notice"
)

type policyRecord struct {
	PK          string   `dynamodbav:"pk"`
	SK          string   `dynamodbav:"sk"`
	Version     string   `dynamodbav:"version"`
	Effective   string   `dynamodbav:"effective"`
	Summary     string   `dynamodbav:"summary"`
	Material    bool     `dynamodbav:"material"`
	NewPurposes []string `dynamodbav:"new_purposes,stringset,omitempty"`
	// Bases: purpose to legal basis (absent in versions from before).
	Bases       map[string]string `dynamodbav:"bases,omitempty"`
	PublishedAt stamp             `dynamodbav:"published_at,omitempty"`
	PublishedBy string            `dynamodbav:"published_by,omitempty"`
	// How its notices stand.
	NoticeState       string `dynamodbav:"notice_state"`
	NoticePhase       string `dynamodbav:"notice_phase,omitempty"`
	NoticeCursor      string `dynamodbav:"notice_cursor,omitempty"`
	NoticeSubscribers int    `dynamodbav:"notice_subscribers"`
	NoticeRequesters  int    `dynamodbav:"notice_requesters"`
	NoticeInquirers   int    `dynamodbav:"notice_inquirers"`
	NoticeUpdated     stamp  `dynamodbav:"notice_updated,omitempty"`
}

func (r policyRecord) domain() (privacy.PolicyVersion, error) {
	v := privacy.PolicyVersion{Version: r.Version, Summary: r.Summary, Material: r.Material, NewPurposes: r.NewPurposes,
		Bases: r.Bases, PublishedBy: r.PublishedBy, Notices: privacy.NoticeProgress{State: r.NoticeState, Phase: r.NoticePhase,
			Cursor: r.NoticeCursor, Subscribers: r.NoticeSubscribers, Requesters: r.NoticeRequesters,
			Inquirers: r.NoticeInquirers}}
	v.PublishedAt, v.Notices.Updated = r.PublishedAt.Time, r.NoticeUpdated.Time
	// A version whose effective day cannot be read is an error, not one
	// in force since the year 1.
	var err error
	if v.Effective, err = time.Parse(time.DateOnly, r.Effective); err != nil {
		return v, fmt.Errorf("policy version %s: effective: %w", r.Version, err)
	}
	return v, nil
}

// PublishPolicy records a version, once, with es (who published it, why)
// in the ledger in the same write: privacy.ErrExists when a version of
// that name was published before (history is never rewritten).
func (s *Store) PublishPolicy(ctx context.Context, v privacy.PolicyVersion, es ...privacy.Event) error {
	item, err := marshalItem(policyRecord{PK: policyPK, SK: v.Version, Version: v.Version,
		Effective: v.Effective.UTC().Format(time.DateOnly), Summary: v.Summary, Material: v.Material, NewPurposes: v.NewPurposes,
		Bases: v.Bases, PublishedAt: stamp{v.PublishedAt}, PublishedBy: v.PublishedBy, NoticeState: v.Notices.State, NoticePhase: v.Notices.Phase})
	if err != nil {
		return fmt.Errorf("marshal policy version: %w", err)
	}
	ledger, err := s.ledgerPuts(es)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.tables.Ops, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}}}, ledger...)})
	if refusedAt(err, 0) {
		return privacy.ErrExists
	}
	if err != nil {
		return fmt.Errorf("publish policy version: %w", err)
	}
	return nil
}

// PolicyVersions returns every published version.
func (s *Store) PolicyVersions(ctx context.Context) ([]privacy.PolicyVersion, error) {
	items, err := s.query(ctx, s.tables.Ops, policyPK)
	if err != nil {
		return nil, fmt.Errorf("policy versions: %w", err)
	}
	out := make([]privacy.PolicyVersion, 0, len(items))
	for _, it := range items {
		var r policyRecord
		if err := attributevalue.UnmarshalMap(it, &r); err != nil {
			return nil, fmt.Errorf("decode policy version: %w", err)
		}
		if r.Version == "" || r.Effective == "" {
			// Not a published version (every one has both): an update of
			// notice progress that made an item where none was.
			continue
		}
		v, err := r.domain()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// SaveNoticeProgress records how far a version's notices are.
func (s *Store) SaveNoticeProgress(ctx context.Context, version string, p privacy.NoticeProgress) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops,
		Key: map[string]types.AttributeValue{attrPK: str(policyPK), attrSK: str(version)},
		UpdateExpression: aws.String("SET notice_state = :st, notice_phase = :ph, notice_cursor = :c, notice_subscribers = :ns, " +
			"notice_requesters = :nr, notice_inquirers = :ni, notice_updated = :u"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": str(p.State), ":ph": str(p.Phase), ":c": str(p.Cursor),
			":ns": num(int64(p.Subscribers)), ":nr": num(int64(p.Requesters)),
			":ni": num(int64(p.Inquirers)), ":u": str(ts(p.Updated))}})
	if err != nil {
		return fmt.Errorf("notice progress: %w", err)
	}
	return nil
}

// noticeRecord is a notice due to one person.
type noticeRecord struct {
	PK          string   `dynamodbav:"pk"`
	SK          string   `dynamodbav:"sk"`
	Kind        string   `dynamodbav:"kind"`
	Subject     string   `dynamodbav:"subject"`
	Email       string   `dynamodbav:"email"`
	Audience    string   `dynamodbav:"audience"`
	Ref         string   `dynamodbav:"ref"`
	Lang        string   `dynamodbav:"lang,omitempty"`
	Version     string   `dynamodbav:"version"`
	Effective   string   `dynamodbav:"effective"`
	Summary     string   `dynamodbav:"summary"`
	Material    bool     `dynamodbav:"material"`
	Offers      []string `dynamodbav:"offers,stringset,omitempty"`
	CreatedAt   string   `dynamodbav:"created_at"`
	MailDue     string   `dynamodbav:"mail_due"`
	ExpiresAt   int64    `dynamodbav:"expires_at"`
	NewPurposes []string `dynamodbav:"new_purposes,stringset,omitempty"`
}

// DecodeNotice reads a notice item, as stored or as a stream image.
func DecodeNotice(item map[string]types.AttributeValue) (privacy.Notice, error) {
	var r noticeRecord
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return privacy.Notice{}, fmt.Errorf("decode notice: %w", err)
	}
	if r.Kind != KindNotice {
		return privacy.Notice{}, fmt.Errorf("decode notice: item kind %q", r.Kind)
	}
	v := privacy.PolicyVersion{Version: r.Version, Summary: r.Summary, Material: r.Material, NewPurposes: r.NewPurposes}
	if r.Effective != "" {
		var err error
		if v.Effective, err = time.Parse(time.DateOnly, r.Effective); err != nil {
			return privacy.Notice{}, fmt.Errorf("decode notice: effective: %w", err)
		}
	}
	return privacy.Notice{Subject: privacy.SubjectID(r.Subject), Email: r.Email, Audience: r.Audience, Ref: r.Ref, Lang: r.Lang, Version: v,
		Offers: r.Offers}, nil
}

// PutNotice makes a notice due to one person, once: made is false when it
// was made before (by an earlier run, or for the same person by another
// subscription or request, which ref names).
func (s *Store) PutNotice(ctx context.Context, n privacy.Notice, at time.Time) (made bool, ref string, err error) {
	digest := sha256.Sum256([]byte(n.Email))
	key := map[string]types.AttributeValue{attrPK: str(SubjectPK(n.Subject)),
		attrSK: str("NOTICE#" + n.Version.Version + "#" + hex.EncodeToString(digest[:8]))}
	item, err := marshalItem(noticeRecord{PK: SubjectPK(n.Subject),
		SK: s1(key, attrSK), Kind: KindNotice, Subject: string(n.Subject),
		Email: n.Email, Audience: n.Audience, Ref: n.Ref, Lang: n.Lang, Version: n.Version.Version, Effective: n.Version.Effective.UTC().Format(time.DateOnly),
		Summary: n.Version.Summary, Material: n.Version.Material, NewPurposes: n.Version.NewPurposes, Offers: n.Offers,
		CreatedAt: ts(at), MailDue: privacy.Due(privacy.MailPolicyNotice, n.Version.Version).String(),
		ExpiresAt: privacy.Retention().PolicyNotice.From(at).Unix()})
	if err != nil {
		return false, "", fmt.Errorf("marshal notice: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Subjects, Item: withDue(privacy.TableSubjects, item),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if isConditionFailed(err) {
		out, gerr := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Subjects, Key: key,
			ProjectionExpression: aws.String("#r"), ExpressionAttributeNames: map[string]string{"#r": "ref"}, ConsistentRead: aws.Bool(true)})
		if gerr != nil {
			return false, "", fmt.Errorf("read notice: %w", gerr)
		}
		return false, s1(out.Item, "ref"), nil
	}
	if err != nil {
		return false, "", fmt.Errorf("put notice: %w", err)
	}
	return true, n.Ref, nil
}

// A page cursor is the query's LastEvaluatedKey (every key attribute of
// these indexes is a string), as Base64url JSON.
func encodeCursor(key map[string]types.AttributeValue) string {
	if len(key) == 0 {
		return ""
	}
	m := map[string]string{}
	for k, v := range key {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			m[k] = sv.Value
		}
	}
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (map[string]types.AttributeValue, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	var m map[string]string
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return nil, errors.New("a page cursor that this store did not make")
	}
	key := map[string]types.AttributeValue{}
	for k, v := range m {
		key[k] = str(v)
	}
	return key, nil
}

// SubscribersPage returns up to limit confirmed subscribers from after
// cursor ("" for the first page), and the cursor of the next page ("" at
// the end): a planner never holds the whole list.
func (s *Store) SubscribersPage(ctx context.Context, cursor string, limit int) ([]privacy.Subscription, string, error) {
	start, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.tables.Subjects, IndexName: aws.String("by-list"),
		KeyConditionExpression:    aws.String("list_pk = :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": str(listSubscribers)},
		ExclusiveStartKey:         start, Limit: aws.Int32(int32(limit))})
	if err != nil {
		return nil, "", fmt.Errorf("subscribers page: %w", err)
	}
	subs := make([]privacy.Subscription, 0, len(out.Items))
	for _, it := range out.Items {
		sub, err := DecodeSubscription(it)
		if err != nil {
			return nil, "", err
		}
		subs = append(subs, sub)
	}
	return subs, encodeCursor(out.LastEvaluatedKey), nil
}

// InquirersPage returns the inquiries still kept among up to limit items
// of the subjects table from after cursor (a scan: a material policy
// change is rare, and no index lists inquiries), each with only what a
// notice needs (id, subject, address, language), and the cursor of the
// next page ("" at the end). An inquiry past its expiry that TTL has not
// deleted yet is left out.
func (s *Store) InquirersPage(ctx context.Context, cursor string, limit int, now time.Time) ([]privacy.Inquiry, string, error) {
	start, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	out, err := s.db.Scan(ctx, &dynamodb.ScanInput{TableName: &s.tables.Subjects,
		Select:                    types.SelectSpecificAttributes,
		ProjectionExpression:      aws.String("pk, sk, id, subject, email, lang"),
		FilterExpression:          aws.String("begins_with(sk, :inq) AND expires_at > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":inq": str(inquirySKPrefix), ":now": num(now.Unix())},
		ExclusiveStartKey:         start, Limit: aws.Int32(int32(limit))})
	if err != nil {
		return nil, "", fmt.Errorf("inquirers page: %w", err)
	}
	inqs := make([]privacy.Inquiry, 0, len(out.Items))
	for _, it := range out.Items {
		inqs = append(inqs, privacy.Inquiry{ID: s1(it, "id"), Subject: privacy.SubjectID(s1(it, "subject")),
			Form: privacy.ContactForm{Email: s1(it, "email")}, Lang: s1(it, "lang")})
	}
	return inqs, encodeCursor(out.LastEvaluatedKey), nil
}

// RequestsPage returns up to limit requests in status from after cursor,
// from the by-status-due index, and the cursor of the next page.
func (s *Store) RequestsPage(ctx context.Context, status privacy.Status, cursor string, limit int) ([]privacy.RightsRequest, string, error) {
	start, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.tables.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(status)},
		ExclusiveStartKey:         start, Limit: aws.Int32(int32(limit))})
	if err != nil {
		return nil, "", fmt.Errorf("requests page: %w", err)
	}
	reqs := make([]privacy.RightsRequest, 0, len(out.Items))
	for _, it := range out.Items {
		if s1(it, "kind") != KindRequest {
			continue // a delivery to a processor shares the index
		}
		r, err := DecodeRequest(it)
		if err != nil {
			return nil, "", err
		}
		reqs = append(reqs, r)
	}
	return reqs, encodeCursor(out.LastEvaluatedKey), nil
}
