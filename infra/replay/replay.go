// Package replay feeds what Lambda gave up on back to its function, once
// the cause is fixed (privacyctl replay). It reads the failure queue
// (FailureQueue: the on-failure destination of every stream mapping and
// asynchronous invocation, and the schedules' dead-letter queue) and, per
// message: an asynchronous invocation's record is invoked again with its
// request payload; a schedule's dead letter is its input, invoked on its
// target; a stream batch's record names where the batch is in the
// stream: the records are read back from the stream (they are kept 24
// hours) and each one's item is marked replayed (dynamo.AttrReplayedAt),
// a change the stream delivers to the function again, which makes what
// the item makes due now due again (privacy.Change.Replayed). A stream's
// function is never invoked with records the replay read: whoever may
// replay would otherwise make the mailer send, or the callbacks post,
// whatever events they wrote (PrivacyMaintenancePolicy may not invoke
// either). A message is deleted only once its replay succeeded, so each is
// fed back once; one that fails again stays, and shows again after its
// visibility timeout.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
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

// Items is the part of DynamoDB the replay of a stream batch uses: it
// marks each record's item replayed.
type Items interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Replayer replays the messages of one queue.
type Replayer struct {
	Queue    Queue
	QueueURL string
	Streams  Streams
	Items    Items
	Invoker  Invoker
	Log      io.Writer
	// Hide is how long a message received is hidden from another replay
	// (SQS's visibility timeout): a replay that fails shows it again after
	// that. 5 minutes when zero.
	Hide time.Duration
	// Marks, when set, says which of a given-up batch's items a replay
	// marks: a batch's sequence range holds every record of the shard
	// between its first and last, those its mapping's filter dropped
	// included, which the function never saw and the replay must not
	// touch (OnlyProcessors). Every one when nil.
	Marks func(table string, key map[string]ddbtypes.AttributeValue) bool
}

// OnlyProcessors is Marks for a stack whose ops table is opsTable: of its
// stream, only the processors' registry items (pk "PROC#", the mailer's
// OpsStream filter in template.yaml) are marked; the asks, counters and
// markers between them are not (review 12: PrivacyReplayPolicy may mark
// only those, and a replay stopped at the first other one, for good).
// Every item of the other tables' streams is.
func OnlyProcessors(opsTable string) func(table string, key map[string]ddbtypes.AttributeValue) bool {
	return func(table string, key map[string]ddbtypes.AttributeValue) bool {
		if table != opsTable {
			return true
		}
		pk, _ := key["pk"].(*ddbtypes.AttributeValueMemberS)
		return pk != nil && pk.Value == dynamo.ProcessorPrefix
	}
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
	touched, gone, err := r.touch(ctx, msg.Batch.StreamARN, records)
	what = fmt.Sprintf("%s (%d items marked replayed, %d gone since)", what, touched, gone)
	return what, err
}

// touch marks the item of each record replayed (once per key, and only
// an item that still exists: a deleted one has nothing left to do), and
// reports how many it marked and how many were gone.
func (r *Replayer) touch(ctx context.Context, streamARN string, records []streamtypes.Record) (touched, gone int, err error) {
	table, ok := tableOf(streamARN)
	if !ok {
		return 0, 0, fmt.Errorf("%s is not a table's stream", streamARN)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	seen := map[string]bool{}
	for _, rec := range records {
		key, id := keyOf(rec.Dynamodb.Keys)
		if seen[id] || len(key) == 0 || (r.Marks != nil && !r.Marks(table, key)) {
			continue
		}
		seen[id] = true
		names := map[string]string{"#r": dynamo.AttrReplayedAt}
		var exists []string
		for i, k := range slices.Sorted(maps.Keys(key)) {
			n := fmt.Sprintf("#k%d", i)
			names[n] = k
			exists = append(exists, "attribute_exists("+n+")")
		}
		_, err := r.Items.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key,
			UpdateExpression: aws.String("SET #r = :at"), ConditionExpression: aws.String(strings.Join(exists, " AND ")),
			ExpressionAttributeNames: names, ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":at": &ddbtypes.AttributeValueMemberS{Value: now}}})
		var failed *ddbtypes.ConditionalCheckFailedException
		switch {
		case errors.As(err, &failed):
			gone++
		case err != nil:
			return touched, gone, fmt.Errorf("mark replayed: %w", err)
		default:
			touched++
		}
	}
	return touched, gone, nil
}

// tableOf is the name of the table whose stream arn is.
func tableOf(streamARN string) (string, bool) {
	_, rest, ok := strings.Cut(streamARN, ":table/")
	name, _, ok2 := strings.Cut(rest, "/stream/")
	return name, ok && ok2 && name != ""
}

// keyOf converts a stream record's key to a table's, and names it.
func keyOf(keys map[string]streamtypes.AttributeValue) (map[string]ddbtypes.AttributeValue, string) {
	out := map[string]ddbtypes.AttributeValue{}
	var id strings.Builder
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		switch v := keys[k].(type) {
		case *streamtypes.AttributeValueMemberS:
			out[k] = &ddbtypes.AttributeValueMemberS{Value: v.Value}
			fmt.Fprintf(&id, "%s=S:%s;", k, v.Value)
		case *streamtypes.AttributeValueMemberN:
			out[k] = &ddbtypes.AttributeValueMemberN{Value: v.Value}
			fmt.Fprintf(&id, "%s=N:%s;", k, v.Value)
		case *streamtypes.AttributeValueMemberB:
			out[k] = &ddbtypes.AttributeValueMemberB{Value: v.Value}
			fmt.Fprintf(&id, "%s=B:%x;", k, v.Value)
		}
	}
	return out, id.String()
}

// records reads a shard's records from start to end (sequence numbers,
// inclusive).
func (r *Replayer) records(ctx context.Context, streamARN, shard, start, end string) ([]streamtypes.Record, error) {
	it, err := r.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamARN),
		ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(start)})
	if err != nil {
		return nil, fmt.Errorf("read the stream: %w", err)
	}
	last, _ := new(big.Int).SetString(end, 10)
	var out []streamtypes.Record
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
			out = append(out, rec)
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
