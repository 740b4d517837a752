package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// scripted answers each invocation with the next answer, and records the
// sequence numbers of each batch it was given.
type scripted struct {
	mu      sync.Mutex
	answers []string
	batches [][]string
}

func (f *scripted) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ev struct {
		Records []map[string]any `json:"Records"`
	}
	_ = json.Unmarshal(payload, &ev)
	var seqs []string
	for _, r := range ev.Records {
		seqs = append(seqs, seqOf(r))
	}
	f.batches = append(f.batches, seqs)
	if len(f.answers) == 0 {
		return []byte("null"), nil
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}

func records(seqs ...string) []map[string]any {
	var out []map[string]any
	for _, s := range seqs {
		out = append(out, map[string]any{"dynamodb": map[string]any{"SequenceNumber": s}})
	}
	return out
}

// Reported item failures are retried from the first one only when the
// mapping declares ReportBatchItemFailures; without it Lambda ignores the
// answer, and so does the gateway: a function that reports failures it
// never declared loses those records in AWS, and must lose them here too.
func TestBatchItemFailuresOnlyWhenDeclared(t *testing.T) {
	failed := `{"batchItemFailures":[{"itemIdentifier":"2"}]}`
	for _, tc := range []struct {
		name     string
		declared bool
		want     string
	}{
		{"declared", true, "[[1 2 3] [2 3]]"},
		{"not declared", false, "[[1 2 3]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := &scripted{answers: []string{failed}}
			s := &streamSource{fn: fn, id: "Fn", itemFailures: tc.declared, maxRetries: -1, log: io.Discard}
			s.deliver(context.Background(), "shard-1", records("1", "2", "3"))
			if got := fmt.Sprint(fn.batches); got != tc.want {
				t.Fatalf("batches %s, want %s", got, tc.want)
			}
		})
	}
}

type failing struct{ n int }

func (f *failing) Invoke(context.Context, []byte) ([]byte, error) {
	f.n++
	return nil, errors.New("function error")
}

// A batch that fails past MaximumRetryAttempts is given up and its place
// in the stream recorded on the on-failure destination, a queue of the
// stack on the local SQS server, in Lambda's shape.
func TestGivenUpBatchGoesToTheOnFailureQueue(t *testing.T) {
	ctx := context.Background()
	tmpl := &Template{Resources: map[string]Resource{"FailureQueue": {Type: "AWS::SQS::Queue"}}}
	r, q := testQueues(t, tmpl)
	fn := &failing{}
	s := &streamSource{fn: fn, id: "MailerFunction", arn: "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/x", maxRetries: 1,
		dest: r.Attrs["FailureQueue.Arn"], queues: q, region: "us-east-1", log: io.Discard}
	s.deliver(ctx, "shard-7", records("11", "12", "13"))
	if fn.n != 2 {
		t.Fatalf("%d attempts, want 2 (one and one retry)", fn.n)
	}
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.Refs["FailureQueue"]), WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	var rec struct {
		RequestContext struct{ FunctionArn, Condition string } `json:"requestContext"`
		Batch          struct {
			ShardID, StartSequenceNumber, EndSequenceNumber, StreamArn string
			BatchSize                                                  int
		} `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:MailerFunction" ||
		rec.RequestContext.Condition != "RetryAttemptsExhausted" || rec.Batch.ShardID != "shard-7" ||
		rec.Batch.StartSequenceNumber != "11" || rec.Batch.EndSequenceNumber != "13" || rec.Batch.BatchSize != 3 || rec.Batch.StreamArn != s.arn {
		t.Fatalf("on-failure record %+v", rec)
	}
}
