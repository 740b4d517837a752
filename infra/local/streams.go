package local

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// invoker runs a function with a payload (a *Function does).
type invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// streamSource is one DynamoDB event of a function: the stream, the batch
// size, the starting position, filters and the retry limit.
type streamSource struct {
	fn         invoker
	id         string
	arn        string
	batchSize  int32
	latest     bool
	filters    []filter
	maxRetries int // -1: until the record expires, as Lambda's default
	// itemFailures is FunctionResponseTypes: [ReportBatchItemFailures].
	// Without it Lambda ignores what the function answers: a batch fails
	// only by a function error, and reported failures count as success.
	itemFailures bool
	// dest is DestinationConfig.OnFailure: where a batch given up on is
	// recorded (its place in the stream), on the local SQS server.
	dest   string
	queues *queues
	region string
	log    io.Writer
	client *dynamodbstreams.Client
	// poll is the least time between two reads of a shard (Lambda reads
	// each four times a second); idle, the time between two reads while
	// nothing is written through the AWS front (a test's own writes to
	// DynamoDB Local are read within it).
	poll, idle time.Duration
	// act is the stack's activity (WaitIdle): the source is busy from its
	// start until it has described its stream, and again from a shard's
	// close until the next description finds its successors.
	act      *activity
	describe atomic.Bool
}

func newStreamSource(fn *Function, e Event, client *dynamodbstreams.Client, region string, log io.Writer) (*streamSource, error) {
	s := &streamSource{fn: fn, id: fn.ID, arn: asString(e.Properties["Stream"]), batchSize: 100, maxRetries: -1,
		latest: asString(e.Properties["StartingPosition"]) == "LATEST", region: region, log: log,
		client: client, poll: 250 * time.Millisecond, idle: time.Second}
	if s.arn == "" {
		return nil, fmt.Errorf("%s: DynamoDB event without a stream", fn.ID)
	}
	if b := asString(e.Properties["BatchSize"]); b != "" {
		n, err := strconv.Atoi(b)
		if err != nil {
			return nil, fmt.Errorf("%s BatchSize: %w", fn.ID, err)
		}
		s.batchSize = int32(min(n, 1000))
	}
	if m := asString(e.Properties["MaximumRetryAttempts"]); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil {
			return nil, fmt.Errorf("%s MaximumRetryAttempts: %w", fn.ID, err)
		}
		s.maxRetries = n
	}
	for _, t := range asList(e.Properties["FunctionResponseTypes"]) {
		s.itemFailures = s.itemFailures || asString(t) == "ReportBatchItemFailures"
	}
	s.dest = onFailure(e.Properties)
	var err error
	if s.filters, err = parseFilters(e.Properties["FilterCriteria"]); err != nil {
		return nil, fmt.Errorf("%s: %w", fn.ID, err)
	}
	return s, nil
}

// run polls every shard of the stream until ctx ends. New shards are found
// as DynamoDB Local rolls them over.
func (s *streamSource) run(ctx context.Context) {
	defer s.described()
	seen := map[string]bool{}
	first := true
	for ctx.Err() == nil {
		out, err := s.client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &s.arn})
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(s.log, "gateway\tstream %s: describe: %v\n", s.id, err)
			}
			sleep(ctx, time.Second)
			continue
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if seen[id] {
				continue
			}
			seen[id] = true
			// Shards that exist at start begin where the template says;
			// shards found later are new, and read from their start.
			pos := types.ShardIteratorTypeTrimHorizon
			if first && s.latest {
				pos = types.ShardIteratorTypeLatest
			}
			key := &struct{ shard string }{id}
			s.act.addShard(key)
			go s.shard(ctx, id, pos, key)
		}
		s.described()
		first = false
		sleep(ctx, 2*time.Second)
	}
}

// undescribed marks the stream as to be described (busy until it is):
// at the start, and when a shard closes.
func (s *streamSource) undescribed() {
	if s.describe.CompareAndSwap(false, true) {
		s.act.begin()
	}
}

func (s *streamSource) described() {
	if s.describe.CompareAndSwap(true, false) {
		s.act.end()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (s *streamSource) shard(ctx context.Context, shard string, pos types.ShardIteratorType, key any) {
	defer func() {
		s.act.removeShard(key)
		if ctx.Err() == nil {
			s.undescribed() // closed: its successors are found by the next description
		}
	}()
	var iter *string
	lastSeq := ""
	// iterator (re)positions the shard: after the last record delivered, or
	// at the start position when none was. DynamoDB Local answers a read of
	// a stale iterator with TrimmedDataAccess or ExpiredIterator; both are
	// healed by asking again.
	iterator := func() {
		for ctx.Err() == nil {
			in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &s.arn, ShardId: &shard, ShardIteratorType: pos}
			if lastSeq != "" {
				in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, &lastSeq
			}
			it, err := s.client.GetShardIterator(ctx, in)
			if err == nil {
				iter = it.ShardIterator
				return
			}
			var gone *types.ResourceNotFoundException
			if errors.As(err, &gone) {
				iter = nil
				return
			}
			if ctx.Err() == nil {
				fmt.Fprintf(s.log, "gateway\tstream %s: shard iterator: %v\n", s.id, err)
			}
			sleep(ctx, time.Second)
		}
	}
	iterator()
	for ctx.Err() == nil && iter != nil {
		since, written := s.act.now(), s.act.writes()
		out, err := s.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(s.batchSize)})
		if err != nil {
			var expired *types.ExpiredIteratorException
			var trimmed *types.TrimmedDataAccessException
			switch {
			case ctx.Err() != nil:
				return
			case errors.As(err, &expired), errors.As(err, &trimmed):
				sleep(ctx, s.poll)
			default:
				fmt.Fprintf(s.log, "gateway\tstream %s: get records: %v\n", s.id, err)
				sleep(ctx, time.Second)
			}
			iterator()
			continue
		}
		var batch []map[string]any
		for _, r := range out.Records {
			rec := s.toEvent(r)
			if matchAny(s.filters, rec) {
				batch = append(batch, rec)
			}
		}
		s.deliver(ctx, shard, batch)
		if n := len(out.Records); n > 0 {
			lastSeq = aws.ToString(out.Records[n-1].Dynamodb.SequenceNumber)
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 {
			s.act.caughtUp(key, since)
			s.pause(ctx, written)
		}
	}
}

// pause waits between two reads that found nothing: s.poll at least,
// then until something is written (written is closed) or s.idle has
// passed. Reading every shard four times a second, idle, was DynamoDB
// Local's largest load in the end-to-end tests (four idle stacks: 0.8 s
// of its CPU a second at 250 ms, 0.2 s at 1 s).
func (s *streamSource) pause(ctx context.Context, written <-chan struct{}) {
	sleep(ctx, s.poll)
	if s.idle <= s.poll {
		return
	}
	t := time.NewTimer(s.idle - s.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-written:
	case <-t.C:
	}
}

// deliver invokes the function with a batch until it succeeds, retrying
// from the first failed record it reports (ReportBatchItemFailures), or the
// whole batch on a function error, with backoff.
func (s *streamSource) deliver(ctx context.Context, shard string, batch []map[string]any) {
	if len(batch) == 0 {
		return
	}
	s.act.begin()
	defer s.act.end()
	backoff := 200 * time.Millisecond
	for attempt := 0; len(batch) > 0 && ctx.Err() == nil; attempt++ {
		if s.maxRetries >= 0 && attempt > s.maxRetries {
			// As Lambda: the batch is given up, and where it is in the
			// stream goes to the on-failure destination.
			err := fmt.Errorf("no on-failure destination")
			if s.dest != "" {
				err = s.queues.send(ctx, s.dest, streamFailure(s.region, s.id, s.arn, shard, batch, attempt, "RetryAttemptsExhausted"))
			}
			if err != nil {
				fmt.Fprintf(s.log, "gateway\tstream %s: dropping %d records after %d retries: %v\n", s.id, len(batch), s.maxRetries, err)
			} else {
				fmt.Fprintf(s.log, "gateway\tstream %s: %d records after %d retries sent to %s\n", s.id, len(batch), s.maxRetries, s.dest)
			}
			return
		}
		payload, err := json.Marshal(map[string]any{"Records": batch})
		if err != nil {
			fmt.Fprintf(s.log, "gateway\tstream %s: %v\n", s.id, err)
			return
		}
		out, err := s.fn.Invoke(ctx, payload)
		if err == nil {
			var resp struct {
				BatchItemFailures []struct {
					ItemIdentifier string `json:"itemIdentifier"`
				} `json:"batchItemFailures"`
			}
			if s.itemFailures && len(out) > 0 && string(out) != "null" {
				if jerr := json.Unmarshal(out, &resp); jerr != nil {
					err = fmt.Errorf("unreadable response: %w", jerr)
				}
			}
			if err == nil {
				if len(resp.BatchItemFailures) == 0 {
					return
				}
				from := len(batch)
				for _, f := range resp.BatchItemFailures {
					i := indexOfSeq(batch, f.ItemIdentifier)
					if i < 0 {
						from = 0 // an unknown or empty identifier fails the batch
						break
					}
					from = min(from, i)
				}
				batch = batch[from:]
				fmt.Fprintf(s.log, "gateway\tstream %s: %d records reported failed; retrying from %s\n",
					s.id, len(resp.BatchItemFailures), seqOf(batch[0]))
			}
		}
		if err != nil && ctx.Err() == nil {
			fmt.Fprintf(s.log, "gateway\tstream %s: batch failed; retrying: %v\n", s.id, err)
		}
		sleep(ctx, backoff)
		backoff = min(backoff*2, 10*time.Second)
	}
}

func seqOf(rec map[string]any) string {
	return asString(asMap(rec["dynamodb"])["SequenceNumber"])
}

func indexOfSeq(batch []map[string]any, seq string) int {
	if seq == "" {
		return -1
	}
	for i, r := range batch {
		if seqOf(r) == seq {
			return i
		}
	}
	return -1
}

// toEvent renders a stream record in the shape Lambda delivers it.
func (s *streamSource) toEvent(r types.Record) map[string]any { return StreamEvent(r, s.region, s.arn) }

// StreamEvent renders a DynamoDB stream record in the shape Lambda
// delivers it to a function (privacyctl replay reads a failed batch back
// with it).
func StreamEvent(r types.Record, region, streamARN string) map[string]any {
	d := r.Dynamodb
	change := map[string]any{
		"SequenceNumber": aws.ToString(d.SequenceNumber),
		"SizeBytes":      aws.ToInt64(d.SizeBytes),
		"StreamViewType": string(d.StreamViewType),
		"Keys":           image(d.Keys),
	}
	if d.ApproximateCreationDateTime != nil {
		change["ApproximateCreationDateTime"] = d.ApproximateCreationDateTime.Unix()
	}
	if d.NewImage != nil {
		change["NewImage"] = image(d.NewImage)
	}
	if d.OldImage != nil {
		change["OldImage"] = image(d.OldImage)
	}
	ev := map[string]any{
		"eventID": aws.ToString(r.EventID), "eventName": string(r.EventName), "eventVersion": "1.1",
		"eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": change, "eventSourceARN": streamARN,
	}
	if r.UserIdentity != nil {
		ev["userIdentity"] = map[string]any{"type": aws.ToString(r.UserIdentity.Type),
			"principalId": aws.ToString(r.UserIdentity.PrincipalId)}
	}
	return ev
}

func image(m map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = attr(v)
	}
	return out
}

func attr(v types.AttributeValue) map[string]any {
	switch a := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": a.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": a.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(a.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": a.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": a.Value}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": a.Value}
	case *types.AttributeValueMemberBS:
		l := make([]string, len(a.Value))
		for i, b := range a.Value {
			l[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": l}
	case *types.AttributeValueMemberL:
		l := make([]any, len(a.Value))
		for i, e := range a.Value {
			l[i] = attr(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": image(a.Value)}
	}
	return map[string]any{"NULL": true}
}
