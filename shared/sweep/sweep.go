// Package sweep enforces the retention policy (privacy.Policy) on time:
// DynamoDB TTL may lag by days and knows no conditions, so a scheduled sweep
// scans each table in parallel segments, deletes (BatchWriteItem, retrying
// unprocessed items with backoff) or strips what is past its period, never
// touches what a legal hold or a restriction protects, stops before its time
// budget with a checkpoint and resumes from it on the next run.
package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// API is the part of DynamoDB the sweep uses.
type API interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// ControllerRecords enforces the retention of what controllers handed
// this system as their processor (privacy.ControllerDue): each
// controller's own period, and 12 months after its termination.
type ControllerRecords interface {
	ExpireControllerRecords(ctx context.Context, now time.Time, dry bool) (int, error)
}

// Sweeper runs sweeps.
type Sweeper struct {
	DB      API
	Tables  map[privacy.Table]string
	Classes []privacy.Class
	// Controllers, when set, has the controllers' records swept too.
	Controllers ControllerRecords
	Segments    int   // parallel scan segments per table
	PageSize    int32 // items per scan page
	Now         func() time.Time
	Log         *slog.Logger
}

// Options of one run.
type Options struct {
	DryRun bool
	// Budget is how long the run may take; it stops at a page boundary
	// after that and leaves a checkpoint. Every segment still reads at
	// least one page per run, so a run always makes progress.
	Budget time.Duration
}

// Report says what a run did (or, dry, would do).
type Report struct {
	RunID    string                    `json:"run_id"`
	DryRun   bool                      `json:"dry_run"`
	Resumed  bool                      `json:"resumed"`
	Complete bool                      `json:"complete"`
	Scanned  int                       `json:"scanned"`
	Counts   map[string]map[string]int `json:"counts"` // class -> deleted|stripped|protected
	Retries  int                       `json:"batch_retries"`
	Duration time.Duration             `json:"duration_ns"`
}

func (r *Report) add(class, what string, n int) {
	if r.Counts[class] == nil {
		r.Counts[class] = map[string]int{}
	}
	r.Counts[class][what] += n
}

// checkpoint is where each segment of each table stopped.
type checkpoint struct {
	RunID    string                       `json:"run_id"`
	Segments map[string][]segmentProgress `json:"segments"` // table name -> segment
}

type segmentProgress struct {
	LastKey map[string]string `json:"last_key,omitempty"`
	Done    bool              `json:"done"`
}

const checkpointPK = "SWEEP#CHECKPOINT"

// ControllerRecordsClass names the controllers' records in a Report.
const ControllerRecordsClass = "controller_record"

// Run sweeps every table once, or as far as the budget allows.
func (s *Sweeper) Run(ctx context.Context, opt Options) (Report, error) {
	start := time.Now()
	now := s.Now()
	rep := Report{RunID: now.UTC().Format("20060102T150405.000000000Z"), DryRun: opt.DryRun, Counts: map[string]map[string]int{}}
	cp, err := s.loadCheckpoint(ctx, opt.DryRun)
	if err != nil {
		return rep, err
	}
	rep.Resumed = cp.RunID != ""
	if !rep.Resumed {
		cp = checkpoint{RunID: rep.RunID, Segments: map[string][]segmentProgress{}}
	}
	deadline := start.Add(opt.Budget)
	holds := &holdCache{db: s.DB, table: s.Tables[privacy.TableSubjects], now: now}
	var mu sync.Mutex
	var firstErr error
	for _, table := range s.tablesInUse() {
		name := s.Tables[table]
		segs := cp.Segments[name]
		if len(segs) != s.Segments {
			segs = make([]segmentProgress, s.Segments)
		}
		var wg sync.WaitGroup
		for i := range segs {
			if segs[i].Done {
				continue
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				local := Report{Counts: map[string]map[string]int{}}
				err := s.segment(ctx, table, name, i, &segs[i], now, deadline, opt.DryRun, holds, &local)
				mu.Lock()
				defer mu.Unlock()
				rep.Scanned += local.Scanned
				rep.Retries += local.Retries
				for c, m := range local.Counts {
					for k, n := range m {
						rep.add(c, k, n)
					}
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}(i)
		}
		wg.Wait()
		cp.Segments[name] = segs
	}
	if s.Controllers != nil {
		n, err := s.Controllers.ExpireControllerRecords(ctx, now, opt.DryRun)
		rep.add(ControllerRecordsClass, "deleted", n)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	rep.Complete = firstErr == nil
	for _, segs := range cp.Segments {
		for _, sg := range segs {
			rep.Complete = rep.Complete && sg.Done
		}
	}
	rep.Duration = time.Since(start)
	if !opt.DryRun {
		if err := s.saveCheckpoint(ctx, cp, rep.Complete); err != nil && firstErr == nil {
			firstErr = err
		}
		if err := s.record(ctx, rep, now); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	s.Log.InfoContext(ctx, "retention sweep", "run_id", rep.RunID, "dry_run", rep.DryRun, "resumed", rep.Resumed,
		"complete", rep.Complete, "scanned", rep.Scanned, "counts", rep.Counts, "batch_retries", rep.Retries,
		"duration_ms", rep.Duration.Milliseconds())
	return rep, firstErr
}

func (s *Sweeper) tablesInUse() []privacy.Table {
	seen := map[privacy.Table]bool{}
	var out []privacy.Table
	for _, c := range s.Classes {
		if !seen[c.Table] && s.Tables[c.Table] != "" {
			seen[c.Table] = true
			out = append(out, c.Table)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (s *Sweeper) segment(ctx context.Context, table privacy.Table, name string, seg int, p *segmentProgress,
	now, deadline time.Time, dry bool, holds *holdCache, rep *Report) error {
	b := &batch{db: s.DB, table: name, rep: rep}
	for first := true; ; first = false {
		if !first && time.Now().After(deadline) {
			return b.flush(ctx)
		}
		in := &dynamodb.ScanInput{TableName: &name, Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(int32(s.Segments)),
			Limit: aws.Int32(s.PageSize), ConsistentRead: aws.Bool(true)}
		if p.LastKey != nil {
			in.ExclusiveStartKey = fromStrings(p.LastKey)
		}
		out, err := s.DB.Scan(ctx, in)
		if err != nil {
			return fmt.Errorf("scan %s segment %d: %w", name, seg, err)
		}
		for _, item := range out.Items {
			rep.Scanned++
			if err := s.apply(ctx, table, name, item, now, dry, holds, b, rep); err != nil {
				return err
			}
		}
		// Progress is recorded only once the page's deletes are written.
		if err := b.flush(ctx); err != nil {
			return err
		}
		if out.LastEvaluatedKey == nil {
			p.LastKey, p.Done = nil, true
			return nil
		}
		p.LastKey = toStrings(out.LastEvaluatedKey)
	}
}

// due returns the classes whose period for item has ended.
func (s *Sweeper) due(table privacy.Table, item map[string]types.AttributeValue, now time.Time) []privacy.Class {
	var out []privacy.Class
	for _, c := range s.Classes {
		if c.Table != table || (c.Kind != "" && str(item, "kind") != c.Kind) ||
			(c.Status != "" && str(item, "status") != c.Status) {
			continue
		}
		if _, ok := item[c.Has]; c.Has != "" && !ok {
			continue
		}
		if _, ok := item[c.Unless]; c.Unless != "" && ok {
			continue
		}
		clock, ok := timeAttr(item, c.Clock)
		if !ok {
			continue
		}
		end := clock
		if c.Clock != privacy.ClockExpiry {
			end = c.From(clock)
		}
		if !now.Before(end) {
			out = append(out, c)
		}
	}
	return out
}

func (s *Sweeper) apply(ctx context.Context, table privacy.Table, name string, item map[string]types.AttributeValue,
	now time.Time, dry bool, holds *holdCache, b *batch, rep *Report) error {
	classes := s.due(table, item, now)
	if len(classes) == 0 {
		return nil
	}
	if pk := str(item, "pk"); strings.HasPrefix(pk, "S#") && table != privacy.TableOps {
		held, err := holds.held(ctx, pk)
		if err != nil {
			return err
		}
		if held {
			for _, c := range classes {
				rep.add(c.Name, "protected", 1)
			}
			return nil
		}
	}
	key := map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}
	for _, c := range classes {
		if c.Action == privacy.Delete {
			rep.add(c.Name, "deleted", 1)
			if dry {
				return nil
			}
			return b.delete(ctx, key)
		}
	}
	for _, c := range classes {
		rep.add(c.Name, "stripped", 1)
		if dry {
			continue
		}
		if err := s.strip(ctx, name, key, item, c); err != nil {
			return err
		}
	}
	return nil
}

// strip removes a class's attributes, if the item still has the clock value
// it was judged by (a concurrent change wins).
func (s *Sweeper) strip(ctx context.Context, table string, key, item map[string]types.AttributeValue, c privacy.Class) error {
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
	vals := map[string]types.AttributeValue{":clock": item[c.Clock]}
	cond := "#clock = :clock"
	if c.Status != "" {
		// A request verified meanwhile is no longer this class's.
		names["#status"], vals[":status"] = "status", &types.AttributeValueMemberS{Value: c.Status}
		cond += " AND #status = :status"
	}
	update := "REMOVE " + strings.Join(paths, ", ")
	var sets []string
	for _, attr := range slices.Sorted(maps.Keys(c.Set)) {
		n := "#set_" + attr
		names[n], vals[":set_"+attr] = attr, &types.AttributeValueMemberS{Value: c.Set[attr]}
		sets = append(sets, n+" = :set_"+attr)
	}
	if len(sets) > 0 {
		update = "SET " + strings.Join(sets, ", ") + " " + update
	}
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &table, Key: key,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("strip %s: %w", c.Name, err)
	}
	return nil
}

// batch collects deletes into BatchWriteItem calls of 25.
type batch struct {
	db    API
	table string
	keys  []map[string]types.AttributeValue
	rep   *Report
}

func (b *batch) delete(ctx context.Context, key map[string]types.AttributeValue) error {
	b.keys = append(b.keys, key)
	if len(b.keys) == 25 {
		return b.flush(ctx)
	}
	return nil
}

// flush writes the pending deletes, retrying unprocessed items and
// throttling with exponential backoff until all are done.
func (b *batch) flush(ctx context.Context) error {
	if len(b.keys) == 0 {
		return nil
	}
	reqs := make([]types.WriteRequest, len(b.keys))
	for i, k := range b.keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	b.keys = b.keys[:0]
	backoff := 25 * time.Millisecond
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > 0 {
			b.rep.Retries++
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		if attempt > 12 {
			return fmt.Errorf("batch delete on %s: %d items still unprocessed", b.table, len(reqs))
		}
		out, err := b.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{b.table: reqs}})
		if err != nil {
			if throttled(err) {
				continue
			}
			return fmt.Errorf("batch delete on %s: %w", b.table, err)
		}
		reqs = out.UnprocessedItems[b.table]
	}
	return nil
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

// holdCache knows the subjects under a legal hold or a restriction
// (privacy.HoldLegal and friends): one Query of the sparse by-list index per
// run loads them all, so the sweep checks holds without a read per item.
type holdCache struct {
	db    API
	table string
	now   time.Time
	once  sync.Once
	err   error
	set   map[string]bool
}

func (h *holdCache) held(ctx context.Context, pk string) (bool, error) {
	h.once.Do(func() {
		h.set = map[string]bool{}
		p := dynamodb.NewQueryPaginator(h.db, &dynamodb.QueryInput{TableName: &h.table, IndexName: aws.String("by-list"),
			KeyConditionExpression:    aws.String("list_pk = :h"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberS{Value: privacy.HoldsList}}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				h.err = fmt.Errorf("load holds: %w", err)
				return
			}
			for _, it := range page.Items {
				// A legal hold with an end date protects nothing after it.
				if until, ok := timeAttr(it, "until"); ok && !h.now.Before(until) {
					continue
				}
				h.set[str(it, "pk")] = true
			}
		}
	})
	return h.set[pk], h.err
}

func (s *Sweeper) cpKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: checkpointPK},
		"sk": &types.AttributeValueMemberS{Value: "SWEEP"}}
}

func (s *Sweeper) loadCheckpoint(ctx context.Context, dry bool) (checkpoint, error) {
	var cp checkpoint
	if dry {
		return cp, nil // a dry run looks at everything, from the start
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Tables[privacy.TableOps]), Key: s.cpKey(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return cp, fmt.Errorf("read sweep checkpoint: %w", err)
	}
	if v, ok := out.Item["state"].(*types.AttributeValueMemberS); ok {
		if err := json.Unmarshal([]byte(v.Value), &cp); err != nil {
			return checkpoint{}, nil // unreadable: start over, which is safe
		}
	}
	return cp, nil
}

func (s *Sweeper) saveCheckpoint(ctx context.Context, cp checkpoint, complete bool) error {
	ops := aws.String(s.Tables[privacy.TableOps])
	if complete {
		_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: ops, Key: s.cpKey()})
		return err
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	item := s.cpKey()
	item["state"] = &types.AttributeValueMemberS{Value: string(b)}
	// The checkpoint itself expires: a sweep that stops running for a week
	// starts over rather than from a stale position.
	item["expires_at"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(s.Now().Add(7*24*time.Hour).Unix(), 10)}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: item})
	if err != nil {
		return fmt.Errorf("save sweep checkpoint: %w", err)
	}
	return nil
}

// record writes the run's report to the ledger, the evidence that the
// retention policy is enforced.
func (s *Sweeper) record(ctx context.Context, rep Report, now time.Time) error {
	ledger := s.Tables[privacy.TableLedger]
	if ledger == "" {
		return nil
	}
	b, _ := json.Marshal(rep.Counts)
	at := now.UTC().Format(time.RFC3339Nano)
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &ledger, Item: map[string]types.AttributeValue{
		"pk":         &types.AttributeValueMemberS{Value: "SYSTEM#retention-sweep"},
		"sk":         &types.AttributeValueMemberS{Value: at + "#" + rep.RunID},
		"event":      &types.AttributeValueMemberS{Value: "retention_sweep"},
		"at":         &types.AttributeValueMemberS{Value: at},
		"counts":     &types.AttributeValueMemberS{Value: string(b)},
		"complete":   &types.AttributeValueMemberBOOL{Value: rep.Complete},
		"resumed":    &types.AttributeValueMemberBOOL{Value: rep.Resumed},
		"scanned":    &types.AttributeValueMemberN{Value: strconv.Itoa(rep.Scanned)},
		"duration":   &types.AttributeValueMemberN{Value: strconv.FormatInt(rep.Duration.Milliseconds(), 10)},
		"expires_at": &types.AttributeValueMemberN{Value: strconv.FormatInt(privacy.Retention.Ledger.From(now).Unix(), 10)},
	}})
	if err != nil {
		return fmt.Errorf("record sweep report: %w", err)
	}
	return nil
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// timeAttr reads a clock: an RFC 3339 string or epoch seconds.
func timeAttr(item map[string]types.AttributeValue, name string) (time.Time, bool) {
	switch v := item[name].(type) {
	case *types.AttributeValueMemberS:
		t, err := time.Parse(time.RFC3339Nano, v.Value)
		return t, err == nil
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseFloat(v.Value, 64)
		return time.Unix(int64(n), 0), err == nil
	}
	return time.Time{}, false
}

func toStrings(k map[string]types.AttributeValue) map[string]string {
	out := map[string]string{}
	for name, v := range k {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out[name] = s.Value
		}
	}
	return out
}

func fromStrings(k map[string]string) map[string]types.AttributeValue {
	out := map[string]types.AttributeValue{}
	for name, v := range k {
		out[name] = &types.AttributeValueMemberS{Value: v}
	}
	return out
}

// Event is what the schedule (or an operator) sends. The schedule's own
// envelope has neither field, which means a real run.
type Event struct {
	DryRun bool `json:"dry_run"`
}

// Handle is the Lambda entry point: a run within the invocation's time,
// leaving a margin to write the checkpoint and the report.
func (s *Sweeper) Handle(ctx context.Context, ev Event) (Report, error) {
	budget := 10 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		budget = time.Until(d) - 30*time.Second
	}
	return s.Run(ctx, Options{DryRun: ev.DryRun, Budget: max(budget, 0)})
}
