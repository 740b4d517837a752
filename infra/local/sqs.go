package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sqsSource is one SQS event of a function, delivered as Lambda's event
// source mapping does: up to BatchSize messages per invocation (gathered
// for up to MaximumBatchingWindowInSeconds), at most
// ScalingConfig.MaximumConcurrency invocations at once; a batch the
// function fails stays on the queue and comes back after the queue's
// visibility timeout (the queue's RedrivePolicy moves a message to its
// dead-letter queue after maxReceiveCount receives); with
// FunctionResponseTypes ReportBatchItemFailures only the messages the
// answer names come back, and an answer naming a message not in the batch
// fails the whole batch.
type sqsSource struct {
	fn           invoker
	id, arn, url string
	batchSize    int
	window       time.Duration
	concurrency  int
	itemFailures bool
	client       *sqs.Client
	region       string
	log          io.Writer
	act          *activity // the stack's (WaitIdle)
}

func newSQSSource(fn *Function, e Event, q *queues, region string, log io.Writer) (*sqsSource, error) {
	if q == nil {
		return nil, fmt.Errorf("%s: an SQS event needs the local SQS server", fn.ID)
	}
	s := &sqsSource{fn: fn, id: fn.ID, arn: asString(e.Properties["Queue"]), batchSize: 10, concurrency: 2,
		client: q.client, region: region, log: log}
	url, ok := q.urls[s.arn]
	if !ok {
		return nil, fmt.Errorf("%s: SQS event on %q, not a queue of this stack", fn.ID, s.arn)
	}
	s.url = url
	count := func(name string, def int) (int, error) {
		v := asString(e.Properties[name])
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s %s: %q is not a count", fn.ID, name, v)
		}
		return n, nil
	}
	size, err := count("BatchSize", 10)
	if err != nil {
		return nil, err
	}
	window, err := count("MaximumBatchingWindowInSeconds", 0)
	if err != nil {
		return nil, err
	}
	s.batchSize, s.window = max(1, min(size, 10000)), time.Duration(window)*time.Second
	if c := asString(asMap(e.Properties["ScalingConfig"])["MaximumConcurrency"]); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 2 {
			return nil, fmt.Errorf("%s ScalingConfig.MaximumConcurrency: %q (at least 2)", fn.ID, c)
		}
		s.concurrency = n
	}
	for _, t := range asList(e.Properties["FunctionResponseTypes"]) {
		s.itemFailures = s.itemFailures || asString(t) == "ReportBatchItemFailures"
	}
	return s, nil
}

// run polls with s.concurrency pollers until ctx ends.
func (s *sqsSource) run(ctx context.Context) {
	done := make(chan struct{})
	for range s.concurrency {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				if batch := s.receive(ctx); len(batch) > 0 {
					s.deliver(ctx, batch)
				}
			}
		}()
	}
	for range s.concurrency {
		<-done
	}
}

// receive gathers one batch: a long poll for the first messages, then
// more until the batch is full or the batching window has passed.
func (s *sqsSource) receive(ctx context.Context) []types.Message {
	var batch []types.Message
	deadline := time.Now().Add(s.window)
	for len(batch) < s.batchSize {
		wait := int32(1)
		if len(batch) > 0 {
			wait = 0
		}
		out, err := s.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.url),
			MaxNumberOfMessages: int32(min(10, s.batchSize-len(batch))), WaitTimeSeconds: wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			//lint:ignore SA1019 the local SQS server reads only the older name
			AttributeNames:        []types.QueueAttributeName{types.QueueAttributeNameAll},
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(s.log, "gateway\tsqs %s: receive: %v\n", s.id, err)
				sleep(ctx, time.Second)
			}
			return batch
		}
		batch = append(batch, out.Messages...)
		if len(out.Messages) == 0 || !time.Now().Before(deadline) {
			return batch
		}
	}
	return batch
}

// deliver invokes the function with a batch and deletes what succeeded.
func (s *sqsSource) deliver(ctx context.Context, batch []types.Message) {
	s.act.begin()
	defer s.act.end()
	payload, err := json.Marshal(SQSEvent(batch, s.arn, s.region))
	if err != nil {
		fmt.Fprintf(s.log, "gateway\tsqs %s: %v\n", s.id, err)
		return
	}
	out, err := s.fn.Invoke(ctx, payload)
	if err != nil {
		// The whole batch comes back after the visibility timeout.
		fmt.Fprintf(s.log, "gateway\tsqs %s: batch of %d failed; it returns after the visibility timeout: %v\n", s.id, len(batch), err)
		return
	}
	failed, ok := map[string]bool{}, true
	if s.itemFailures {
		failed, ok = batchItemFailures(out, batch)
	}
	if !ok {
		fmt.Fprintf(s.log, "gateway\tsqs %s: the answer names a message not in the batch; the whole batch fails\n", s.id)
		return
	}
	var entries []types.DeleteMessageBatchRequestEntry
	for i, m := range batch {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	for len(entries) > 0 {
		n := min(10, len(entries))
		if _, err := s.client.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{
			QueueUrl: aws.String(s.url), Entries: entries[:n]}); err != nil {
			fmt.Fprintf(s.log, "gateway\tsqs %s: delete: %v (the messages come back)\n", s.id, err)
		}
		entries = entries[n:]
	}
}

// batchItemFailures reads a function's SQSEventResponse: the ids of the
// messages that failed, and false when it names one not in the batch (or
// none: an empty itemIdentifier), which Lambda takes as the whole batch
// failing. An answer that is not such a response means every message
// succeeded.
func batchItemFailures(out []byte, batch []types.Message) (map[string]bool, bool) {
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	failed := map[string]bool{}
	if json.Unmarshal(out, &resp) != nil {
		return failed, true
	}
	in := map[string]bool{}
	for _, m := range batch {
		in[aws.ToString(m.MessageId)] = true
	}
	for _, f := range resp.BatchItemFailures {
		if !in[f.ItemIdentifier] {
			return nil, false
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, true
}

// SQSEvent is the event Lambda delivers for a batch of messages.
func SQSEvent(batch []types.Message, queueARN, region string) map[string]any {
	records := make([]map[string]any, 0, len(batch))
	for _, m := range batch {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		msgAttrs := map[string]any{}
		for k, v := range m.MessageAttributes {
			a := map[string]any{"dataType": aws.ToString(v.DataType), "stringListValues": []string{}, "binaryListValues": []string{}}
			if v.StringValue != nil {
				a["stringValue"] = *v.StringValue
			}
			if v.BinaryValue != nil {
				a["binaryValue"] = v.BinaryValue
			}
			msgAttrs[k] = a
		}
		records = append(records, map[string]any{"messageId": aws.ToString(m.MessageId),
			"receiptHandle": aws.ToString(m.ReceiptHandle), "body": aws.ToString(m.Body), "attributes": attrs,
			"messageAttributes": msgAttrs, "md5OfBody": aws.ToString(m.MD5OfBody), "eventSource": "aws:sqs",
			"eventSourceARN": queueARN, "awsRegion": region})
	}
	return map[string]any{"Records": records}
}
