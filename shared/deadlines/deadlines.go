// Package deadlines watches the rights requests' deadlines: one digest to
// the privacy team per run, listing the requests that are overdue, due
// within a week, or waiting on the requester. Never one email per request.
package deadlines

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The request statuses the watch reads through the requests table's
// "by-status-due" index (status, due_at). Open requests are the team's to
// answer; identity_unverified ones wait on the requester.
var (
	OpenStatuses    = []string{"pending", "in_progress", "awaiting_review"}
	WaitingStatuses = []string{"identity_unverified"}
)

// Soon is how far ahead "due soon" looks.
const Soon = 7 * 24 * time.Hour

// API is the part of DynamoDB the watch uses.
type API interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Watch builds and sends the digest.
type Watch struct {
	DB       API
	Requests string // table name
	// Subjects, when set, is the subjects table, whose holds index lists
	// the legal holds in force (shown in a digest that goes out anyway:
	// a hold alone is not a reason to email every day).
	Subjects string
	Mail     mailer.Sender
	Config   notify.Config
	Now      func() time.Time
	Log      *slog.Logger
}

// Result counts what the digest listed.
type Result struct {
	Overdue int `json:"overdue"`
	DueSoon int `json:"due_soon"`
	Waiting int `json:"waiting_on_requester"`
	// Recipients counts processors told of an erasure not yet done with it.
	Recipients int `json:"recipients_not_done"`
	// Holds counts the legal holds the digest listed.
	Holds int  `json:"legal_holds"`
	Sent  bool `json:"digest_sent"`
}

// Run queries the index and sends one digest if anything needs attention.
func (w *Watch) Run(ctx context.Context) (Result, error) {
	now := w.Now().UTC()
	var d notify.Digest
	d.Date = now.Format("2 January 2006")
	for _, st := range OpenStatuses {
		items, err := w.byStatus(ctx, st, now.Add(Soon))
		if err != nil {
			return Result{}, err
		}
		for _, r := range items {
			if r.Due.Before(now) {
				d.Overdue = append(d.Overdue, r)
			} else {
				d.DueSoon = append(d.DueSoon, r)
			}
		}
	}
	for _, st := range WaitingStatuses {
		items, err := w.byStatus(ctx, st, now.AddDate(1, 0, 0))
		if err != nil {
			return Result{}, err
		}
		d.Waiting = append(d.Waiting, items...)
	}
	for _, l := range [][]notify.DigestItem{d.Overdue, d.DueSoon, d.Waiting} {
		sort.Slice(l, func(i, j int) bool { return l[i].Due.Before(l[j].Due) })
	}
	for _, st := range []string{dynamo.DeliveryFailed, dynamo.DeliveryOpen} {
		rs, err := w.recipients(ctx, st)
		if err != nil {
			return Result{}, err
		}
		d.Recipients = append(d.Recipients, rs...)
	}
	res := Result{Overdue: len(d.Overdue), DueSoon: len(d.DueSoon), Waiting: len(d.Waiting), Recipients: len(d.Recipients)}
	if res.Overdue+res.DueSoon+res.Waiting+res.Recipients > 0 {
		if w.Subjects != "" {
			holds, err := w.holds(ctx, now)
			if err != nil {
				return res, err
			}
			d.Holds, res.Holds = holds, len(holds)
		}
		msg, err := notify.DeadlineDigest(w.Config, d)
		if err != nil {
			return res, err
		}
		if _, err := w.Mail.Send(ctx, msg); err != nil {
			return res, fmt.Errorf("send digest: %w", err)
		}
		res.Sent = true
	}
	w.Log.InfoContext(ctx, "deadline watch", "overdue", res.Overdue, "due_soon", res.DueSoon,
		"waiting", res.Waiting, "recipients", res.Recipients, "digest_sent", res.Sent)
	return res, nil
}

func (w *Watch) byStatus(ctx context.Context, status string, until time.Time) ([]notify.DigestItem, error) {
	p := dynamodb.NewQueryPaginator(w.DB, &dynamodb.QueryInput{
		TableName: &w.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression:    aws.String("#s = :s AND due_at <= :until"),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: status}, ":until": &types.AttributeValueMemberS{Value: until.Format(time.RFC3339)}},
		ProjectionExpression:      aws.String("id, #t, #s, due_at, received_at"),
	})
	var out []notify.DigestItem
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s requests: %w", status, err)
		}
		for _, it := range page.Items {
			due, _ := time.Parse(time.RFC3339, s(it, "due_at"))
			out = append(out, notify.DigestItem{ID: s(it, "id"), Type: s(it, "type"), Status: s(it, "status"), Due: due})
		}
	}
	return out, nil
}

// recipients lists the deliveries in a status bucket, oldest first.
func (w *Watch) recipients(ctx context.Context, status string) ([]notify.DigestRecipient, error) {
	p := dynamodb.NewQueryPaginator(w.DB, &dynamodb.QueryInput{
		TableName: &w.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: status}},
		ProjectionExpression:      aws.String("id, processor_name, #st, last_error, submitted_at"),
	})
	var out []notify.DigestRecipient
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s deliveries: %w", status, err)
		}
		for _, it := range page.Items {
			since, _ := time.Parse(time.RFC3339Nano, s(it, "submitted_at"))
			out = append(out, notify.DigestRecipient{RequestID: s(it, "id"), Processor: s(it, "processor_name"),
				State: s(it, "state"), LastError: s(it, "last_error"), Since: since})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

// holds lists the legal holds in force at now, oldest first (the subjects
// table's sparse holds index; restrictions are not listed).
func (w *Watch) holds(ctx context.Context, now time.Time) ([]notify.DigestHold, error) {
	p := dynamodb.NewQueryPaginator(w.DB, &dynamodb.QueryInput{TableName: &w.Subjects, IndexName: aws.String("by-list"),
		KeyConditionExpression:    aws.String("list_pk = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberS{Value: privacy.HoldsList}}})
	var out []notify.DigestHold
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query holds: %w", err)
		}
		for _, it := range page.Items {
			if s(it, "sk") != privacy.HoldLegal {
				continue
			}
			h := dynamo.DecodeHold(it)
			if !h.InForce(now) {
				continue
			}
			sub := string(h.Subject)
			out = append(out, notify.DigestHold{Subject: sub[:min(12, len(sub))], Reason: h.Reason, By: h.PlacedBy,
				Since: h.PlacedAt, Until: h.Until})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

func s(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
