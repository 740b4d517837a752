package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
)

// function stands in for the local gateway's invoke route: it records
// each payload and fails while told to.
type function struct {
	mu       sync.Mutex
	failing  bool
	payloads []string
}

func (f *function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.payloads = append(f.payloads, r.URL.Path+" "+string(b))
	if f.failing {
		http.Error(w, `{"errorMessage":"still broken"}`, http.StatusBadGateway)
		return
	}
	_, _ = w.Write([]byte(`{"batchItemFailures":[]}`))
}

// A stream batch's failure record names where the batch is in the stream;
// replay reads exactly those records back from DynamoDB Local's stream and
// invokes the function once with them; an asynchronous invocation's record
// is invoked with its payload; a replay that fails leaves the message, one
// that succeeds deletes it.
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
	srv := httptest.NewServer(f)
	defer srv.Close()
	var log bytes.Buffer
	r := &replay.Replayer{Queue: q, QueueURL: aws.ToString(cq.QueueUrl), Streams: streams,
		Invoker: replay.Gateway{URL: srv.URL}, Log: &log, Hide: time.Second}
	if rep, err := r.Run(ctx, 0); err != nil || rep != (replay.Report{Failed: 2}) {
		t.Fatalf("while the function fails: %+v %v\n%s", rep, err, log.String())
	}
	// The failed ones stay, hidden for their visibility timeout; once it
	// is over, a replay with the cause fixed feeds each back once.
	f.mu.Lock()
	f.failing, f.payloads = false, nil
	f.mu.Unlock()
	time.Sleep(1100 * time.Millisecond)
	if rep, err := r.Run(ctx, 0); err != nil || rep != (replay.Report{Replayed: 2}) {
		t.Fatalf("replay: %+v %v\n%s", rep, err, log.String())
	}
	got := strings.Join(f.payloads, "\n")
	if !strings.Contains(got, "/_local/invoke/SweepFunction {\"dry_run\":false}") {
		t.Errorf("the async invocation was not replayed with its payload:\n%s", got)
	}
	var batch struct {
		Records []struct {
			Dynamodb struct {
				SequenceNumber string
				Keys           map[string]map[string]string
			} `json:"dynamodb"`
		} `json:"Records"`
	}
	for _, p := range f.payloads {
		if body, ok := strings.CutPrefix(p, "/_local/invoke/CallbackFunction "); ok {
			_ = json.Unmarshal([]byte(body), &batch)
		}
	}
	if len(batch.Records) != 2 || batch.Records[0].Dynamodb.SequenceNumber != seq(1) || batch.Records[1].Dynamodb.SequenceNumber != seq(2) ||
		batch.Records[0].Dynamodb.Keys["pk"]["S"] != "R#r1" {
		t.Fatalf("the stream batch replayed: %+v", batch)
	}
	if rep, _ := r.Run(ctx, 0); rep != (replay.Report{}) {
		t.Fatalf("a second run found %+v", rep)
	}
}
