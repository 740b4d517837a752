package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// SweepAPI is the part of DynamoDB the retention sweep uses.
type SweepAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Sweep is the retention sweep's storage: tables read in parallel scan
// segments, deletes in batches (unprocessed items and throttling retried
// with backoff), strips conditional on the clock they were judged by, the
// holds, the checkpoint and the run's record in the ledger.
type Sweep struct {
	DB     SweepAPI
	Tables map[privacy.Table]string
}

// sweepItem is an item as scanned.
type sweepItem map[string]types.AttributeValue

func (it sweepItem) String(name string) string { return s1(it, name) }

func (it sweepItem) Has(name string) bool { _, ok := it[name]; return ok }

func (it sweepItem) Time(name string) (time.Time, bool) {
	switch v := it[name].(type) {
	case *types.AttributeValueMemberS:
		t, err := parseTS(v.Value)
		return t, err == nil && !t.IsZero()
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseFloat(v.Value, 64)
		return time.Unix(int64(n), 0), err == nil
	}
	return time.Time{}, false
}

func (it sweepItem) Subject() (privacy.SubjectID, bool) {
	sub, ok := strings.CutPrefix(s1(it, attrPK), "S#")
	return privacy.SubjectID(sub), ok
}

func (it sweepItem) key() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}
}

// Swept reports whether the sweep has the table to sweep.
func (s *Sweep) Swept(t privacy.Table) bool { return s.Tables[t] != "" }

// ScanPage reads one page of a scan segment from the position from (nil:
// the start), consistently. next is nil after the segment's last page.
func (s *Sweep) ScanPage(ctx context.Context, t privacy.Table, segment, total int, limit int32,
	from map[string]string) (items []privacy.Item, next map[string]string, err error) {
	name := s.Tables[t]
	in := &dynamodb.ScanInput{TableName: &name, Segment: aws.Int32(int32(segment)), TotalSegments: aws.Int32(int32(total)),
		Limit: aws.Int32(limit), ConsistentRead: aws.Bool(true)}
	if from != nil {
		in.ExclusiveStartKey = map[string]types.AttributeValue{}
		for k, v := range from {
			in.ExclusiveStartKey[k] = str(v)
		}
	}
	out, err := s.DB.Scan(ctx, in)
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s segment %d: %w", name, segment, err)
	}
	items = make([]privacy.Item, len(out.Items))
	for i, it := range out.Items {
		items[i] = sweepItem(it)
	}
	if out.LastEvaluatedKey != nil {
		next = map[string]string{}
		for k := range out.LastEvaluatedKey {
			next[k] = s1(out.LastEvaluatedKey, k)
		}
	}
	return items, next, nil
}

// DeleteItems deletes scanned items, 25 to a BatchWriteItem, retrying
// unprocessed items and throttling with exponential backoff until all are
// gone. It reports how many retries it took.
func (s *Sweep) DeleteItems(ctx context.Context, t privacy.Table, items []privacy.Item) (int, error) {
	name, retries := s.Tables[t], 0
	for chunk := range slices.Chunk(items, 25) {
		reqs := make([]types.WriteRequest, len(chunk))
		for i, it := range chunk {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: it.(sweepItem).key()}}
		}
		backoff := 25 * time.Millisecond
		for attempt := 0; len(reqs) > 0; attempt++ {
			if attempt > 0 {
				retries++
				select {
				case <-ctx.Done():
					return retries, ctx.Err()
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 5*time.Second)
			}
			if attempt > 12 {
				return retries, fmt.Errorf("batch delete on %s: %d items still unprocessed", name, len(reqs))
			}
			out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{name: reqs}})
			if err != nil {
				if throttled(err) {
					continue
				}
				return retries, fmt.Errorf("batch delete on %s: %w", name, err)
			}
			reqs = out.UnprocessedItems[name]
		}
	}
	return retries, nil
}

func throttled(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

// Strip removes a class's attributes from a scanned item (and sets its
// Set), if the item still has the clock value it was judged by and, for a
// class of one status, still that status: a concurrent change wins.
func (s *Sweep) Strip(ctx context.Context, t privacy.Table, item privacy.Item, c privacy.Class) error {
	it := item.(sweepItem)
	names := map[string]string{"#clock": c.Clock}
	var paths []string
	for i, p := range c.Remove {
		var parts []string
		for j, seg := range strings.Split(p, ".") {
			n := fmt.Sprintf("#r%d_%d", i, j)
			names[n] = seg
			parts = append(parts, n)
		}
		paths = append(paths, strings.Join(parts, "."))
	}
	vals := map[string]types.AttributeValue{":clock": it[c.Clock]}
	cond := "#clock = :clock"
	if c.Status != "" {
		// A request verified meanwhile is no longer this class's.
		names["#status"], vals[":status"] = "status", str(c.Status)
		cond += " AND #status = :status"
	}
	update := "REMOVE " + strings.Join(paths, ", ")
	var sets []string
	for _, attr := range slices.Sorted(maps.Keys(c.Set)) {
		n := "#set_" + attr
		names[n], vals[":set_"+attr] = attr, str(c.Set[attr])
		sets = append(sets, n+" = :set_"+attr)
	}
	if len(sets) > 0 {
		update = "SET " + strings.Join(sets, ", ") + " " + update
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables[t]), Key: it.key(),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("strip %s: %w", c.Name, err)
	}
	return nil
}

// HeldSubjects returns the subjects under a legal hold in force at now or
// a restriction: one query of the sparse holds index.
func (s *Sweep) HeldSubjects(ctx context.Context, now time.Time) (map[privacy.SubjectID]bool, error) {
	held := map[privacy.SubjectID]bool{}
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{TableName: aws.String(s.Tables[privacy.TableSubjects]),
		IndexName: aws.String("by-list"), KeyConditionExpression: aws.String("list_pk = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": str(privacy.HoldsList)}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("load holds: %w", err)
		}
		for _, it := range page.Items {
			// A legal hold with an end date protects nothing after it.
			if until, ok := sweepItem(it).Time("until"); ok && !now.Before(until) {
				continue
			}
			if sub, ok := sweepItem(it).Subject(); ok {
				held[sub] = true
			}
		}
	}
	return held, nil
}

var sweepCheckpointKey = map[string]types.AttributeValue{attrPK: str("SWEEP#CHECKPOINT"), attrSK: str("SWEEP")}

// SweepCheckpoint returns the saved position of an unfinished sweep, or
// nil.
func (s *Sweep) SweepCheckpoint(ctx context.Context) ([]byte, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Tables[privacy.TableOps]),
		Key: sweepCheckpointKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read sweep checkpoint: %w", err)
	}
	if v := s1(out.Item, "state"); v != "" {
		return []byte(v), nil
	}
	return nil, nil
}

// SaveSweepCheckpoint keeps the position of an unfinished sweep until
// expires (a sweep that stops running for long starts over rather than
// from a stale position); a nil state removes it (the sweep completed).
func (s *Sweep) SaveSweepCheckpoint(ctx context.Context, state []byte, expires time.Time) error {
	ops := aws.String(s.Tables[privacy.TableOps])
	if state == nil {
		if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: ops, Key: sweepCheckpointKey}); err != nil {
			return fmt.Errorf("clear sweep checkpoint: %w", err)
		}
		return nil
	}
	item := maps.Clone(sweepCheckpointKey)
	item["state"], item[attrTTL] = str(string(state)), num(expires.Unix())
	if _, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: item}); err != nil {
		return fmt.Errorf("save sweep checkpoint: %w", err)
	}
	return nil
}

// RecordSweep writes a run's report to the ledger (when the sweep has
// it), the evidence that the retention policy is enforced.
func (s *Sweep) RecordSweep(ctx context.Context, r privacy.SweepRun) error {
	ledger := s.Tables[privacy.TableLedger]
	if ledger == "" {
		return nil
	}
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return fmt.Errorf("record sweep report: %w", err)
	}
	at := ts(r.At)
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &ledger, Item: map[string]types.AttributeValue{
		attrPK: str("SYSTEM#retention-sweep"), attrSK: str(at + "#" + r.RunID), "event": str("retention_sweep"),
		"at": str(at), "counts": str(string(counts)), "complete": &types.AttributeValueMemberBOOL{Value: r.Complete},
		"resumed": &types.AttributeValueMemberBOOL{Value: r.Resumed}, "scanned": num(int64(r.Scanned)),
		"duration": num(r.Duration.Milliseconds()), attrTTL: num(privacy.Retention().Ledger.From(r.At).Unix()),
	}})
	if err != nil {
		return fmt.Errorf("record sweep report: %w", err)
	}
	return nil
}
