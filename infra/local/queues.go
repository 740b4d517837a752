package local

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
)

// queues are the template's SQS queues on the local SQS server: created
// as prefix+LogicalId, resolved as AWS resolves them (Ref: the URL;
// GetAtt Arn, QueueName, QueueUrl), and the on-failure destinations of the
// stream mappings and asynchronous invocations, as Lambda sends to them.
type queues struct {
	client *sqs.Client
	urls   map[string]string // queue ARN -> URL
}

// urlsOrEmpty are the queues' URLs by ARN (none without an SQS server).
func (q *queues) urlsOrEmpty() map[string]string {
	if q == nil {
		return nil
	}
	return q.urls
}

// createQueues creates every AWS::SQS::Queue of the template and fills
// the resolver's answers for them.
func createQueues(ctx context.Context, endpoint string, t *Template, r *Resolver, prefix, region string,
	override map[string]map[string]string) (*queues, error) {
	q := &queues{urls: map[string]string{},
		client: sqs.NewFromConfig(staticAWS(region), func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })}
	// Dead-letter queues first: a RedrivePolicy names one by its ARN.
	ids := t.ResourcesOfType("AWS::SQS::Queue")
	sort.SliceStable(ids, func(i, j int) bool {
		return t.Resources[ids[i]].Properties["RedrivePolicy"] == nil && t.Resources[ids[j]].Properties["RedrivePolicy"] != nil
	})
	for _, id := range ids {
		if ok, err := r.Exists(id); err != nil || !ok {
			if err != nil {
				return nil, fmt.Errorf("queue %s: %w", id, err)
			}
			continue
		}
		name := prefix + id
		attrs, err := queueAttributes(t.Resources[id].Properties, r)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", id, err)
		}
		for k, v := range override[id] {
			attrs[k] = v
		}
		out, err := q.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			return nil, fmt.Errorf("create queue %s: %w", name, err)
		}
		url := aws.ToString(out.QueueUrl)
		arn := fmt.Sprintf("arn:aws:sqs:%s:000000000000:%s", region, name)
		r.Refs[id] = url
		r.Attrs[id+".Arn"], r.Attrs[id+".QueueName"], r.Attrs[id+".QueueUrl"] = arn, name, url
		q.urls[arn] = url
	}
	return q, nil
}

// queueAttributes are the properties of a queue that change how it
// behaves (visibility timeout, retention, redrive to a dead-letter queue),
// resolved, as CreateQueue takes them.
func queueAttributes(props map[string]any, r *Resolver) (map[string]string, error) {
	attrs := map[string]string{}
	for _, name := range []string{"VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"} {
		if v, ok := props[name]; ok {
			rv, err := r.Resolve(v)
			if err != nil {
				return nil, err
			}
			attrs[name] = asString(rv)
		}
	}
	if v, ok := props["RedrivePolicy"]; ok {
		rv, err := r.Resolve(v)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(rv)
		if err != nil {
			return nil, err
		}
		attrs["RedrivePolicy"] = string(b)
	}
	return attrs, nil
}

// send puts an on-failure record on the destination arn names. A
// destination that is not one of the stack's queues is an error the
// caller logs (in AWS the record would be lost too: the template test
// requires every destination to be a queue of the stack).
func (q *queues) send(ctx context.Context, arn string, record any) error {
	if q == nil {
		return fmt.Errorf("no SQS server configured (-sqs): the on-failure record for %s is dropped", arn)
	}
	url, ok := q.urls[arn]
	if !ok {
		return fmt.Errorf("on-failure destination %s is not a queue of this stack", arn)
	}
	b, err := json.Marshal(record)
	if err != nil {
		return err
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(b))})
	return err
}

// functionARN is the local ARN of a function.
func functionARN(region, id string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", region, id)
}

// asyncFailure is the record Lambda sends to an asynchronous invocation's
// on-failure destination.
func asyncFailure(region, fn string, payload []byte, attempts int, invokeErr error) map[string]any {
	var req any = json.RawMessage(payload)
	if !json.Valid(payload) {
		req = string(payload)
	}
	return map[string]any{"version": "1.0", "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"requestContext": map[string]any{"requestId": uuid.NewString(), "functionArn": functionARN(region, fn) + ":$LATEST",
			"condition": "RetriesExhausted", "approximateInvokeCount": attempts},
		"requestPayload":  req,
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"responsePayload": map[string]any{"errorMessage": invokeErr.Error()}}
}

// streamFailure is the record Lambda sends to a stream mapping's
// on-failure destination: where the batch is in the stream, not the
// records (they stay in the stream for its 24 hours).
func streamFailure(region, fn, streamARN, shard string, batch []map[string]any, attempts int, condition string) map[string]any {
	first, last := batch[0], batch[len(batch)-1]
	arrival := func(rec map[string]any) string {
		var n int64
		switch v := asMap(rec["dynamodb"])["ApproximateCreationDateTime"].(type) {
		case int64:
			n = v
		case float64:
			n = int64(v)
		}
		return time.Unix(n, 0).UTC().Format(time.RFC3339)
	}
	return map[string]any{"version": "1.0", "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"requestContext": map[string]any{"requestId": uuid.NewString(), "functionArn": functionARN(region, fn),
			"condition": condition, "approximateInvokeCount": attempts},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"DDBStreamBatchInfo": map[string]any{"shardId": shard, "startSequenceNumber": seqOf(first),
			"endSequenceNumber": seqOf(last), "approximateArrivalOfFirstRecord": arrival(first),
			"approximateArrivalOfLastRecord": arrival(last), "batchSize": len(batch), "streamArn": streamARN}}
}

// onFailure is the destination ARN of an event's or a function's
// DestinationConfig.OnFailure ("" when none).
func onFailure(props map[string]any) string {
	return strings.TrimSpace(asString(asMap(asMap(props["DestinationConfig"])["OnFailure"])["Destination"]))
}
