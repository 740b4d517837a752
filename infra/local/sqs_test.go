package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// testQueues creates tmpl's queues on the local SQS server under a fresh
// prefix, or skips the test without the server (fails it under make test,
// which starts it).
func testQueues(t *testing.T, tmpl *Template) (*Resolver, *queues) {
	t.Helper()
	endpoint := os.Getenv("PK_SQS_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("PK_REQUIRE_SERVICES") != "" {
			t.Fatal("PK_SQS_ENDPOINT must be set (make test sets it)")
		}
		t.Skip("needs the SQS server: run with make test")
	}
	r, err := NewResolver(tmpl, nil, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	q, err := createQueues(context.Background(), endpoint, tmpl, r, fmt.Sprintf("t%d-", time.Now().UnixNano()), "us-east-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, q
}

// recorder is a function that consumes SQS batches: it answers the
// messages whose body starts with "fail" as batch item failures, fails the
// first batch that holds "crash" outright, and counts every delivery.
type recorder struct {
	mu         sync.Mutex
	deliveries map[string]int
	batches    []int
	crashed    bool
	inFlight   int
	maxFlight  int
}

func (r *recorder) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev struct {
		Records []struct {
			MessageID   string            `json:"messageId"`
			Body        string            `json:"body"`
			EventSource string            `json:"eventSource"`
			Attributes  map[string]string `json:"attributes"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.inFlight++
	r.maxFlight = max(r.maxFlight, r.inFlight)
	r.batches = append(r.batches, len(ev.Records))
	r.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	var failures []map[string]string
	for _, rec := range ev.Records {
		if rec.EventSource != "aws:sqs" || rec.Attributes["ApproximateReceiveCount"] == "" {
			return nil, fmt.Errorf("not an SQS record: %+v", rec)
		}
		if rec.Body == "crash" && !r.crashed {
			r.crashed = true
			return nil, errors.New("the function crashed")
		}
	}
	for _, rec := range ev.Records {
		r.deliveries[rec.Body]++
		if strings.HasPrefix(rec.Body, "fail") {
			failures = append(failures, map[string]string{"itemIdentifier": rec.MessageID})
		}
	}
	return json.Marshal(map[string]any{"batchItemFailures": failures})
}

// The SQS event source against the local SQS server: batches of at most
// BatchSize, no more than MaximumConcurrency at once; what succeeded is
// deleted and never comes back; a reported failure comes back after the
// visibility timeout and goes to the dead-letter queue after
// maxReceiveCount; a crashed batch comes back whole.
func TestSQSEventSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tmpl := &Template{Resources: map[string]Resource{
		"Work": {Type: "AWS::SQS::Queue", Properties: map[string]any{"VisibilityTimeout": 3, // the local SQS server hands a message out twice in one receive at 1
			"RedrivePolicy": map[string]any{"deadLetterTargetArn": map[string]any{"Fn::GetAtt": []any{"Dead", "Arn"}}, "maxReceiveCount": 2}}},
		"Dead": {Type: "AWS::SQS::Queue"},
	}}
	r, q := testQueues(t, tmpl)
	fn := &Function{ID: "Consumer"}
	e := Event{Type: "SQS", Properties: map[string]any{"Queue": r.Attrs["Work.Arn"], "BatchSize": 4,
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"}, "ScalingConfig": map[string]any{"MaximumConcurrency": 2}}}
	src, err := newSQSSource(fn, e, q, "us-east-1", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{deliveries: map[string]int{}}
	src.fn = rec
	var bodies []string
	for i := range 30 {
		bodies = append(bodies, fmt.Sprintf("ok-%d", i))
	}
	bodies = append(bodies, "fail-1", "fail-2", "crash")
	for _, b := range bodies {
		if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.Refs["Work"]), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { src.run(runCtx); close(done) }()
	dead := map[string]bool{}
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline) && len(dead) < 2; {
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.Refs["Dead"]),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			dead[aws.ToString(m.Body)] = true
		}
	}
	time.Sleep(3500 * time.Millisecond) // past a visibility timeout: anything coming back would have
	cancel()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, b := range bodies {
		want := 1
		if strings.HasPrefix(b, "fail") {
			want = 2 // maxReceiveCount, then the dead-letter queue
		}
		if got := rec.deliveries[b]; got != want {
			t.Errorf("%s delivered %d times, want %d", b, got, want)
		}
	}
	if !dead["fail-1"] || !dead["fail-2"] || len(dead) != 2 {
		t.Errorf("dead-letter queue holds %v, want the two failures", dead)
	}
	if !rec.crashed {
		t.Error("the crashing batch was never delivered")
	}
	for _, n := range rec.batches {
		if n > 4 {
			t.Errorf("a batch of %d, over BatchSize 4", n)
		}
	}
	if rec.maxFlight > 2 {
		t.Errorf("%d batches at once, over MaximumConcurrency 2", rec.maxFlight)
	}
	t.Logf("%d batches, at most %d at once", len(rec.batches), rec.maxFlight)
}

// An answer naming a message not in the batch fails the whole batch.
func TestBatchItemFailuresUnknownID(t *testing.T) {
	batch := SQSEvent(nil, "arn", "us-east-1")
	if len(batch["Records"].([]map[string]any)) != 0 {
		t.Fatal("an empty batch has records")
	}
	if _, ok := batchItemFailures([]byte(`{"batchItemFailures":[{"itemIdentifier":"nope"}]}`), nil); ok {
		t.Error("an unknown id was taken as a partial failure")
	}
	if f, ok := batchItemFailures([]byte(`null`), nil); !ok || len(f) != 0 {
		t.Error("no answer is not every message succeeding")
	}
}
