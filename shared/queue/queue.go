// Package queue puts messages on an SQS queue.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sdkhttp"
)

// SQS sends to one queue.
type SQS struct {
	Client *sqs.Client
	URL    string
}

// NewClient returns an SQS client, pointed at endpoint when set (the
// local SQS server in development).
func NewClient(cfg aws.Config, endpoint string) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.HTTPClient = sdkhttp.OwnBody(o.HTTPClient)
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Enqueue sends each batch as one message, ten to a request; an entry the
// queue refuses fails the call (the planner then resumes from its last
// saved page, and a batch sent twice sends nothing twice).
func (q *SQS) Enqueue(ctx context.Context, batches []privacy.CampaignBatch) error {
	for len(batches) > 0 {
		n := min(10, len(batches))
		entries := make([]types.SendMessageBatchRequestEntry, 0, n)
		for i, b := range batches[:n] {
			body, err := json.Marshal(b)
			if err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
		}
		out, err := q.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("enqueue: %d of %d refused (%s: %s)", len(out.Failed), n, aws.ToString(f.Code), aws.ToString(f.Message))
		}
		batches = batches[n:]
	}
	return nil
}

// Retention is how long the queue keeps a message (its
// MessageRetentionPeriod).
func (q *SQS) Retention(ctx context.Context) (time.Duration, error) {
	out, err := q.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameMessageRetentionPeriod}})
	if err != nil {
		return 0, fmt.Errorf("queue retention: %w", err)
	}
	secs, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameMessageRetentionPeriod)])
	if err != nil || secs <= 0 {
		return 0, fmt.Errorf("queue retention: no MessageRetentionPeriod (%q)", out.Attributes[string(types.QueueAttributeNameMessageRetentionPeriod)])
	}
	return time.Duration(secs) * time.Second, nil
}
