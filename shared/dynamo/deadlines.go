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

// DueRequests lists the requests in a status due at or before until (any
// time when until is zero), from the by-status-due index. It reads only
// what a deadline digest and the team's board show of a request (id, type,
// status, due and receipt, and a Platform request's controller): never
// the requester's address or a controller's identities. It asks for
// those attributes alone (Select SPECIFIC_ATTRIBUTES), as the grants on
// PlatformRequestsTable's index require (template.yaml).
func (s *Store) DueRequests(ctx context.Context, status privacy.Status, until time.Time) ([]privacy.RightsRequest, error) {
	cond := "#s = :s"
	vals := map[string]types.AttributeValue{":s": str(status)}
	if !until.IsZero() {
		cond += " AND due_at <= :until"
		vals[":until"] = str(dueAt(until))
	}
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName: &s.tables.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#t": "type"},
		ExpressionAttributeValues: vals,
		ProjectionExpression:      aws.String("id, #t, #s, due_at, received_at, controller_id"),
		Select:                    types.SelectSpecificAttributes,
	})
	if err != nil {
		return nil, fmt.Errorf("query %s requests: %w", status, err)
	}
	// A time that cannot be read stops no digest: the index found the
	// request due, so it is listed, its unreadable time left zero (a zero
	// due time is past: overdue, the safe side for a deadline).
	out := make([]privacy.RightsRequest, 0, len(items))
	for _, it := range items {
		var r requestSummary
		if err := attributevalue.UnmarshalMap(it, &r); err != nil {
			r = requestSummary{ID: s1(it, "id"), Type: privacy.Right(s1(it, "type")), Status: privacy.Status(s1(it, "status")),
				Controller: s1(it, "controller_id")}
			r.DueAt.Time, _ = parseTS(s1(it, "due_at"))
			r.ReceivedAt.Time, _ = parseTS(s1(it, "received_at"))
		}
		out = append(out, privacy.RightsRequest{ID: r.ID, Type: r.Type, Status: r.Status, DueAt: r.DueAt.Time, ReceivedAt: r.ReceivedAt.Time,
			Controller: r.Controller})
	}
	return out, nil
}

// requestSummary is what the deadline digest projects of a request.
type requestSummary struct {
	ID         string         `dynamodbav:"id"`
	Type       privacy.Right  `dynamodbav:"type"`
	Status     privacy.Status `dynamodbav:"status"`
	DueAt      deadline       `dynamodbav:"due_at"`
	ReceivedAt stamp          `dynamodbav:"received_at"`
	Controller string         `dynamodbav:"controller_id"`
}

// DeliverySummaries lists the deliveries in a status bucket: the request,
// the processor, where it stands and since when; never the identity told.
func (s *Store) DeliverySummaries(ctx context.Context, status string) ([]privacy.Delivery, error) {
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{
		TableName: &s.tables.Requests, IndexName: aws.String("by-status-due"),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(status)},
		ProjectionExpression:      aws.String("id, processor_name, #st, last_error, submitted_at"),
		Select:                    types.SelectSpecificAttributes, // the index projects ALL: the summary alone
	})
	if err != nil {
		return nil, fmt.Errorf("query %s deliveries: %w", status, err)
	}
	out := make([]privacy.Delivery, 0, len(items))
	for _, it := range items {
		d := privacy.Delivery{RequestID: s1(it, "id"), ProcessorName: s1(it, "processor_name"), State: s1(it, "state"),
			LastError: s1(it, "last_error"), Status: status}
		if d.SubmittedAt, err = parseTS(s1(it, "submitted_at")); err != nil {
			return nil, fmt.Errorf("delivery of %s: submitted_at: %w", d.RequestID, err)
		}
		out = append(out, d)
	}
	return out, nil
}
