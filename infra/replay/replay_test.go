package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/infra/replay"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
)

// function stands in for Lambda's Invoke: it records each payload and
// fails while told to.
type function struct {
	mu       sync.Mutex
	failing  bool
	payloads []string
}

func (f *function) Invoke(_ context.Context, arn string, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.payloads = append(f.payloads, arn+" "+string(payload))
	if f.failing {
		return nil, errors.New("Unhandled: still broken")
	}
	return []byte(`null`), nil
}

// A stream batch's failure record names where the batch is in the stream;
// replay reads exactly those records back from DynamoDB Local's stream and
// marks their items replayed (the stream delivers that change to the
// function), never invoking the function with them; an asynchronous
// invocation's record is invoked with its payload; a replay that fails
// leaves the message, one that succeeds deletes it.
func TestReplayStreamBatchAndAsyncInvocation(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ctx := context.Background()
	tables := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	for i := 0; i < 4; i++ {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tables["RequestsTable"]), Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("R#r%d", i)}, "sk": &ddbtypes.AttributeValueMemberS{Value: "REQUEST"}}}); err != nil {
			t.Fatal(err)
		}
	}
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tables["RequestsTable"])})
	if err != nil {
		t.Fatal(err)
	}
	streamARN := aws.ToString(desc.Table.LatestStreamArn)
	streams := dynamodbstreams.NewFromConfig(localtest.AWSConfig(), func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(svc.DynamoDB) })
	sd, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamARN)})
	if err != nil || len(sd.StreamDescription.Shards) == 0 {
		t.Fatalf("stream: %v", err)
	}
	shard := sd.StreamDescription.Shards[0]
	it, _ := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamARN),
		ShardId: shard.ShardId, ShardIteratorType: "TRIM_HORIZON"})
	recs, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(recs.Records) != 4 {
		t.Fatalf("%d records, %v", len(recs.Records), err)
	}
	seq := func(i int) string { return aws.ToString(recs.Records[i].Dynamodb.SequenceNumber) }

	q := localtest.SQS(svc)
	cq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("replay-" + localtest.Unique())})
	if err != nil {
		t.Fatal(err)
	}
	send := func(body any) {
		b, _ := json.Marshal(body)
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: cq.QueueUrl, MessageBody: aws.String(string(b))}); err != nil {
			t.Fatal(err)
		}
	}
	fn := "arn:aws:lambda:us-east-1:000000000000:function:"
	// The middle two records were the batch given up on.
	send(map[string]any{"requestContext": map[string]any{"functionArn": fn + "CallbackFunction", "condition": "RetryAttemptsExhausted"},
		"DDBStreamBatchInfo": map[string]any{"shardId": aws.ToString(shard.ShardId), "startSequenceNumber": seq(1),
			"endSequenceNumber": seq(2), "batchSize": 2, "streamArn": streamARN}})
	send(map[string]any{"requestContext": map[string]any{"functionArn": fn + "SweepFunction:$LATEST", "condition": "RetriesExhausted"},
		"requestPayload": map[string]any{"dry_run": false}})

	f := &function{failing: true}
	var log bytes.Buffer
	r := &replay.Replayer{Queue: q, QueueURL: aws.ToString(cq.QueueUrl), Streams: streams, Items: db,
		Invoker: f, Log: &log, Hide: time.Second}
	if rep, err := r.Run(ctx, 0); err != nil || rep != (replay.Report{Replayed: 1, Failed: 1}) {
		t.Fatalf("while the function fails: %+v %v\n%s", rep, err, log.String())
	}
	if !strings.Contains(log.String(), "replayed a batch of 2 stream records for CallbackFunction (2 items marked replayed, 0 gone since)") {
		t.Errorf("the batch's replay is reported as\n%s", log.String())
	}
	for i, want := range []bool{false, true, true, false} {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tables["RequestsTable"]), Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("R#r%d", i)}, "sk": &ddbtypes.AttributeValueMemberS{Value: "REQUEST"}}})
		if _, marked := out.Item[dynamo.AttrReplayedAt]; err != nil || marked != want {
			t.Errorf("R#r%d marked replayed: %v, want %v (%v)", i, marked, want, err)
		}
	}
	// The failed one stays, hidden for its visibility timeout; once it is
	// over, a replay with the cause fixed feeds it back once.
	f.mu.Lock()
	f.failing, f.payloads = false, nil
	f.mu.Unlock()
	time.Sleep(1100 * time.Millisecond)
	if rep, err := r.Run(ctx, 0); err != nil || rep != (replay.Report{Replayed: 1}) {
		t.Fatalf("replay: %+v %v\n%s", rep, err, log.String())
	}
	if got := strings.Join(f.payloads, "\n"); got != fn+"SweepFunction {\"dry_run\":false}" {
		t.Errorf("invoked:\n%s\nwant only the async invocation, with its payload", got)
	}
	if rep, _ := r.Run(ctx, 0); rep != (replay.Report{}) {
		t.Fatalf("a second run found %+v", rep)
	}
}
