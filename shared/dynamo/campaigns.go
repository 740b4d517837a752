package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A campaign's records sit in the ops table's partition "CAMPAIGN#<id>":
// the campaign itself (sk "CAMPAIGN": content and planning progress) and
// one item per batch (sk "BATCH#<seq>": what became of its subjects). They
// name no one: counts, a cursor of subject ids, and the team's text.
const (
	CampaignPrefix = "CAMPAIGN#"
	campaignSK     = "CAMPAIGN"
	batchPrefix    = "BATCH#"
)

func campaignKey(id, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(CampaignPrefix + id), attrSK: str(sk)}
}

// StartCampaign records p unless its id is taken, and returns the record
// in force: p, or the one made before (whose content the caller compares).
func (s *Store) StartCampaign(ctx context.Context, p privacy.CampaignPlan) (privacy.CampaignPlan, error) {
	item := campaignKey(p.ID, campaignSK)
	for k, v := range map[string]string{"campaign": p.ID, "topic": p.Topic, "subject": p.Subject, "body": p.Body,
		"campaign_state": p.State, "created_at": ts(p.Created), "updated_at": ts(p.Updated)} {
		item[k] = str(v)
	}
	if len(p.Translations) > 0 {
		b, err := json.Marshal(p.Translations)
		if err != nil {
			return privacy.CampaignPlan{}, fmt.Errorf("start campaign: %w", err)
		}
		item["translations"] = str(string(b)) // JSON: read whole, never queried
	}
	item["pages"], item["planned"], item["batches"], item["not_on_topic"] = num(0), num(0), num(0), num(0)
	item[attrTTL] = num(privacy.Retention().CampaignRecord.From(p.Created).Unix())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ops, Item: withDue(privacy.TableOps, item),
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return decodeCampaign(ccf.Item)
	}
	if err != nil {
		return privacy.CampaignPlan{}, fmt.Errorf("start campaign: %w", err)
	}
	return p, nil
}

// SaveCampaignPlan records how far planning got.
func (s *Store) SaveCampaignPlan(ctx context.Context, p privacy.CampaignPlan) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.tables.Ops, Key: campaignKey(p.ID, campaignSK),
		UpdateExpression: aws.String("SET campaign_state = :st, #c = :c, pages = :pg, planned = :pl, batches = :b, " +
			"not_on_topic = :n, updated_at = :u"),
		ConditionExpression:      aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames: map[string]string{"#c": "cursor"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": str(p.State), ":c": str(p.Cursor), ":pg": num(int64(p.Pages)),
			":pl": num(int64(p.Planned)), ":b": num(int64(p.Batches)), ":n": num(int64(p.NotOnTopic)), ":u": str(ts(p.Updated))}})
	if err != nil {
		return fmt.Errorf("save campaign plan: %w", err)
	}
	return nil
}

// Campaign returns a campaign's record; found is false when there is none.
func (s *Store) Campaign(ctx context.Context, id string) (p privacy.CampaignPlan, found bool, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tables.Ops, Key: campaignKey(id, campaignSK)})
	if err != nil {
		return p, false, fmt.Errorf("read campaign: %w", err)
	}
	if out.Item == nil {
		return p, false, nil
	}
	p, err = decodeCampaign(out.Item)
	return p, err == nil, err
}

// campaignRecord is a campaign's record (sk "CAMPAIGN") as stored.
type campaignRecord struct {
	Campaign     string `dynamodbav:"campaign"`
	Topic        string `dynamodbav:"topic"`
	Subject      string `dynamodbav:"subject"`
	Body         string `dynamodbav:"body"`
	State        string `dynamodbav:"campaign_state"`
	Cursor       string `dynamodbav:"cursor"`
	Translations string `dynamodbav:"translations"`
	Pages        int    `dynamodbav:"pages"`
	Planned      int    `dynamodbav:"planned"`
	Batches      int    `dynamodbav:"batches"`
	NotOnTopic   int    `dynamodbav:"not_on_topic"`
	Created      stamp  `dynamodbav:"created_at"`
	Updated      stamp  `dynamodbav:"updated_at"`
}

// decodeCampaign reads a campaign's record; a time that cannot be read is
// an error (the campaign is not run on a guess).
func decodeCampaign(it map[string]types.AttributeValue) (privacy.CampaignPlan, error) {
	var r campaignRecord
	if err := attributevalue.UnmarshalMap(it, &r); err != nil {
		return privacy.CampaignPlan{}, fmt.Errorf("decode campaign %s: %w", s1(it, "campaign"), err)
	}
	p := privacy.CampaignPlan{ID: r.Campaign, Topic: r.Topic, Subject: r.Subject, Body: r.Body, State: r.State, Cursor: r.Cursor,
		Pages: r.Pages, Planned: r.Planned, Batches: r.Batches, NotOnTopic: r.NotOnTopic, Created: r.Created.Time, Updated: r.Updated.Time}
	if r.Translations != "" {
		// Written by StartCampaign from a map; unreadable, the campaign
		// differs from any other (SameContent) and sends its default text.
		_ = json.Unmarshal([]byte(r.Translations), &p.Translations)
	}
	return p, nil
}

var tallyAttrs = []string{"sent", "skipped_suppressed", "skipped_restricted", "skipped_topic", "rejected", "failed"}

func tallyFields(t *privacy.CampaignTally) []*int {
	return []*int{&t.Sent, &t.Suppressed, &t.Restricted, &t.NotOnTopic, &t.Rejected, &t.Failed}
}

// SaveCampaignBatch records what the latest try of one batch did. A batch
// tried again overwrites its record, and since a tally counts what was
// sent by any try, the record stays true.
func (s *Store) SaveCampaignBatch(ctx context.Context, campaign, seq string, t privacy.CampaignTally, at time.Time) error {
	item := campaignKey(campaign, batchPrefix+seq)
	item["campaign"], item["updated_at"] = str(campaign), str(ts(at))
	for i, p := range tallyFields(&t) {
		item[tallyAttrs[i]] = num(int64(*p))
	}
	item[attrTTL] = num(privacy.Retention().CampaignRecord.From(at).Unix())
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.tables.Ops, Item: withDue(privacy.TableOps, item)}); err != nil {
		return fmt.Errorf("save campaign batch: %w", err)
	}
	return nil
}

// CampaignBatches returns the record of every batch of a campaign that
// has been tried, by sequence.
func (s *Store) CampaignBatches(ctx context.Context, campaign string) (map[string]privacy.CampaignTally, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{TableName: &s.tables.Ops,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :b)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(CampaignPrefix + campaign), ":b": str(batchPrefix)}})
	if err != nil {
		return nil, fmt.Errorf("campaign batches: %w", err)
	}
	out := make(map[string]privacy.CampaignTally, len(items))
	for _, it := range items {
		var t privacy.CampaignTally
		for i, p := range tallyFields(&t) {
			*p = int(n1(it, tallyAttrs[i]))
		}
		out[strings.TrimPrefix(s1(it, attrSK), batchPrefix)] = t
	}
	return out, nil
}

// Audience reads, for a batch of subjects, each one's subscription (absent
// when there is none) and whether their processing is restricted, in one
// consistent BatchGetItem per 50 subjects.
func (s *Store) Audience(ctx context.Context, subjects []privacy.SubjectID) (map[privacy.SubjectID]privacy.Subscription, map[privacy.SubjectID]bool, error) {
	subs, restricted := map[privacy.SubjectID]privacy.Subscription{}, map[privacy.SubjectID]bool{}
	for len(subjects) > 0 {
		n := min(len(subjects), 50)
		keys := make([]map[string]types.AttributeValue, 0, 2*n)
		for _, sub := range subjects[:n] {
			keys = append(keys, subKey(sub), holdKey(sub, privacy.HoldRestriction))
		}
		subjects = subjects[n:]
		pending := map[string]types.KeysAndAttributes{s.tables.Subjects: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(pending) > 0; attempt++ {
			if err := unprocessedPause(ctx, attempt); err != nil {
				return nil, nil, fmt.Errorf("campaign audience: %w", err)
			}
			page, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, nil, fmt.Errorf("campaign audience: %w", err)
			}
			for _, it := range page.Responses[s.tables.Subjects] {
				subject := privacy.SubjectID(strings.TrimPrefix(s1(it, attrPK), SubjectPK("")))
				if s1(it, attrSK) == privacy.HoldRestriction {
					restricted[subject] = len(restrictedBy(it)) > 0
					continue
				}
				sub, err := DecodeSubscription(it)
				if err != nil {
					return nil, nil, err
				}
				subs[subject] = sub
			}
			pending = page.UnprocessedKeys
		}
	}
	return subs, restricted, nil
}
