// Package replay feeds what Lambda gave up on back to its function, once
// the cause is fixed (privacyctl replay). It reads the failure queue
// (FailureQueue: the on-failure destination of every stream mapping and
// asynchronous invocation, and the schedules' dead-letter queue) and, per
// message: an asynchronous invocation's record is invoked again with its
// request payload; a stream batch's record names where the batch is in
// the stream, and the records are read back from the stream (they are
// kept 24 hours) and invoked as one batch; a schedule's dead letter is
// its input, invoked on its target. A message is deleted only once its
// replay succeeded, so each is fed back once; one that fails again stays,
// and shows again after its visibility timeout.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/privacykeeper/privacykeeper/infra/local"
)

// Queue is the part of SQS the replay uses.
type Queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Streams is the part of DynamoDB Streams the replay uses.
type Streams interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Invoker invokes a function synchronously and returns its response; a
// function error is an error.
type Invoker interface {
	Invoke(ctx context.Context, functionARN string, payload []byte) ([]byte, error)
}

// Replayer replays the messages of one queue.
type Replayer struct {
	Queue    Queue
	QueueURL string
	Streams  Streams
	Invoker  Invoker
	Log      io.Writer
	// Hide is how long a message received is hidden from another replay
	// (SQS's visibility timeout): a replay that fails shows it again after
	// that. 5 minutes when zero.
	Hide time.Duration
}

// Report says what a run did.
type Report struct {
	Replayed int `json:"replayed"`
	Failed   int `json:"failed"`
}

// message is a failure record, of any of the three kinds.
type message struct {
	RequestContext struct {
		FunctionARN string `json:"functionArn"`
		Condition   string `json:"condition"`
	} `json:"requestContext"`
	RequestPayload json.RawMessage `json:"requestPayload"`
	Batch          *struct {
		ShardID   string `json:"shardId"`
		Start     string `json:"startSequenceNumber"`
		End       string `json:"endSequenceNumber"`
		StreamARN string `json:"streamArn"`
		Size      int    `json:"batchSize"`
	} `json:"DDBStreamBatchInfo"`
}

// Run replays up to max messages (all when max is 0).
func (r *Replayer) Run(ctx context.Context, max int) (Report, error) {
	var rep Report
	hide := r.Hide
	if hide <= 0 {
		hide = 5 * time.Minute
	}
	seen := map[string]bool{}
	for max == 0 || rep.Replayed+rep.Failed < max {
		n := int32(10)
		if max > 0 {
			n = int32(min(10, max-rep.Replayed-rep.Failed))
		}
		out, err := r.Queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.QueueURL),
			MaxNumberOfMessages: n, WaitTimeSeconds: 1, VisibilityTimeout: int32(hide.Seconds()),
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			return rep, fmt.Errorf("receive: %w", err)
		}
		fresh := 0
		for _, m := range out.Messages {
			if seen[aws.ToString(m.MessageId)] {
				continue // failed earlier in this run, and visible again
			}
			seen[aws.ToString(m.MessageId)] = true
			fresh++
			what, err := r.replay(ctx, m)
			if err != nil {
				rep.Failed++
				fmt.Fprintf(r.Log, "not replayed (%s): %v; it stays in the queue\n", what, err)
				continue
			}
			if _, err := r.Queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.QueueURL),
				ReceiptHandle: m.ReceiptHandle}); err != nil {
				return rep, fmt.Errorf("replayed %s but not deleted (it would be replayed again): %w", what, err)
			}
			rep.Replayed++
			fmt.Fprintf(r.Log, "replayed %s\n", what)
		}
		if fresh == 0 {
			return rep, nil // nothing left that this run has not tried
		}
	}
	return rep, nil
}

func (r *Replayer) replay(ctx context.Context, m sqstypes.Message) (string, error) {
	body := []byte(aws.ToString(m.Body))
	if target, ok := m.MessageAttributes["TARGET_ARN"]; ok {
		// A schedule's dead letter: the body is the schedule's input.
		arn := aws.ToString(target.StringValue)
		_, err := r.Invoker.Invoke(ctx, arn, body)
		return "a schedule's run of " + name(arn), err
	}
	var msg message
	if err := json.Unmarshal(body, &msg); err != nil || msg.RequestContext.FunctionARN == "" {
		return "an unknown message", errors.New("not a Lambda failure record")
	}
	fn := strings.TrimSuffix(msg.RequestContext.FunctionARN, ":$LATEST")
	if msg.Batch == nil {
		_, err := r.Invoker.Invoke(ctx, fn, msg.RequestPayload)
		return "an asynchronous invocation of " + name(fn), err
	}
	what := fmt.Sprintf("a batch of %d stream records for %s", msg.Batch.Size, name(fn))
	records, err := r.records(ctx, msg.Batch.StreamARN, msg.Batch.ShardID, msg.Batch.Start, msg.Batch.End)
	if err != nil {
		return what, err
	}
	if len(records) == 0 {
		return what, errors.New("the records are no longer in the stream (kept 24 hours)")
	}
	payload, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		return what, err
	}
	out, err := r.Invoker.Invoke(ctx, fn, payload)
	if err != nil {
		return what, err
	}
	var resp struct {
		Failures []json.RawMessage `json:"batchItemFailures"`
	}
	if json.Unmarshal(out, &resp) == nil && len(resp.Failures) > 0 {
		return what, fmt.Errorf("%d records failed again", len(resp.Failures))
	}
	return what, nil
}

// records reads a shard's records from start to end (sequence numbers,
// inclusive) in the shape Lambda delivers them.
func (r *Replayer) records(ctx context.Context, streamARN, shard, start, end string) ([]map[string]any, error) {
	it, err := r.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamARN),
		ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(start)})
	if err != nil {
		return nil, fmt.Errorf("read the stream: %w", err)
	}
	region := ""
	if p := strings.Split(streamARN, ":"); len(p) > 3 {
		region = p[3]
	}
	last, _ := new(big.Int).SetString(end, 10)
	var out []map[string]any
	for iter := it.ShardIterator; iter != nil; {
		page, err := r.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return nil, fmt.Errorf("read the stream: %w", err)
		}
		if len(page.Records) == 0 {
			return out, nil // the end of what the shard holds now
		}
		for _, rec := range page.Records {
			seq, _ := new(big.Int).SetString(aws.ToString(rec.Dynamodb.SequenceNumber), 10)
			if seq == nil || last == nil || seq.Cmp(last) > 0 {
				return out, nil
			}
			out = append(out, local.StreamEvent(rec, region, streamARN))
		}
		iter = page.NextShardIterator
	}
	return out, nil
}

// name is a function ARN's function name.
func name(arn string) string {
	if _, n, ok := strings.Cut(arn, ":function:"); ok {
		n, _, _ = strings.Cut(n, ":")
		return n
	}
	return arn
}
