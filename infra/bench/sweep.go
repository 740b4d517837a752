package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sweep"
)

// The retention benchmark: N pending signups in DynamoDB Local, filed in
// the retention index as the store files them, 1% (and, a second time,
// 10%) past their 30 days. The floor deletes exactly the due items by key
// from the index (a query of each shard plus batch deletes, nothing read,
// nothing judged); the sweep is the real one with the whole policy. Each
// runs in a child process of its own, so its peak memory (max RSS) is its
// own. What the sweep reads is counted, not timed: items read per item due
// is the figure that says its cost follows what is due, not the table.

const sweepWorkers, sweepPage = 4, 500

type childResult struct {
	Scanned int     `json:"scanned"` // items read
	Entries int     `json:"entries"` // index entries read
	Deleted int     `json:"deleted"`
	Seconds float64 `json:"seconds"`
	PeakKB  int64   `json:"peak_kb"`
}

// sweepBench is reported under the key "sweep".
type sweepBench struct {
	Items int `json:"items"`
	// At 1% due: the sweep against the floor.
	Due                int     `json:"due"`
	ItemsReadPerDue    float64 `json:"items_read_per_item_due"`
	EntriesReadPerDue  float64 `json:"index_entries_per_item_due"`
	ScanReadPerDue     float64 `json:"a_scan_would_read_per_item_due"`
	FloorSeconds       float64 `json:"floor_s"`
	SweepSeconds       float64 `json:"sweep_s"`
	RatioVsFloor       float64 `json:"ratio_vs_floor"` // sweep time / floor time
	FloorMaxKB         int64   `json:"floor_max_rss_kb"`
	SweepMaxKB         int64   `json:"sweep_max_rss_kb"`
	Due10              int     `json:"due_at_10_percent"`
	ItemsReadPerDue10  float64 `json:"items_read_per_item_due_at_10_percent"`
	SweepSeconds10     float64 `json:"sweep_s_at_10_percent"`
	DeletedFloorSweep1 [2]int  `json:"deleted_floor_sweep"`
}

func benchSweep(ctx context.Context, db *dynamodb.Client, ddb string, n int) (sweepBench, error) {
	now := time.Now()
	r := sweepBench{Items: n}
	// One table set for each run, so none runs on a table another has
	// churned. Streams are off: DynamoDB Local keeps stream records in the
	// same process, which AWS does not.
	runs := []struct {
		mode  string
		every int // one item in every is due
	}{{"floor", 100}, {"sweep", 100}, {"sweep", 10}}
	var res []childResult
	for i, run := range runs {
		names, err := local.CreateTablesOnly(ctx, local.Config{Template: "template.yaml", DynamoDBEndpoint: ddb,
			TablePrefix: fmt.Sprintf("sw%d%d-", time.Now().UnixNano()%1e9, i)})
		if err != nil {
			return r, err
		}
		set := map[string]string{}
		for _, name := range names {
			for _, id := range []string{"SubjectsTable", "LedgerTable", "RequestsTable", "OpsTable"} {
				if strings.HasSuffix(name, id) {
					set[id] = name
				}
			}
		}
		if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(set["SubjectsTable"]),
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
			return r, fmt.Errorf("disable stream: %w", err)
		}
		if err := seed(ctx, db, set["SubjectsTable"], n, run.every, now); err != nil {
			return r, err
		}
		c, err := child(run.mode, set, now)
		if err != nil {
			return r, err
		}
		if want := n / run.every; c.Deleted != want {
			return r, fmt.Errorf("%s at 1 in %d: deleted %d, want %d", run.mode, run.every, c.Deleted, want)
		}
		res = append(res, c)
	}
	floor, sw, sw10 := res[0], res[1], res[2]
	r.Due, r.Due10 = n/100, n/10
	r.ItemsReadPerDue = float64(sw.Scanned) / float64(r.Due)
	r.EntriesReadPerDue = float64(sw.Entries) / float64(r.Due)
	r.ScanReadPerDue = float64(n) / float64(r.Due)
	r.FloorSeconds, r.SweepSeconds = floor.Seconds, sw.Seconds
	r.RatioVsFloor = sw.Seconds / floor.Seconds
	r.FloorMaxKB, r.SweepMaxKB = floor.PeakKB, sw.PeakKB
	r.ItemsReadPerDue10 = float64(sw10.Scanned) / float64(r.Due10)
	r.SweepSeconds10 = sw10.Seconds
	r.DeletedFloorSweep1 = [2]int{floor.Deleted, sw.Deleted}
	return r, nil
}

// seed writes the items, filed as the store files them: one in every is
// expired (31 days old), the others kept (1 day old).
func seed(ctx context.Context, db *dynamodb.Client, table string, n, every int, now time.Time) error {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	return writeAll(ctx, db, table, n, func(i int) map[string]types.AttributeValue {
		age := 24 * time.Hour
		if i%every == 0 {
			age = 31 * 24 * time.Hour
		}
		return dynamo.FileForRetention(privacy.TableSubjects, map[string]types.AttributeValue{
			"pk": s(fmt.Sprintf("S#%064d", i)), "sk": s("SUB"), "kind": s("subscription"), "status": s("pending"),
			"email": s(fmt.Sprintf("user%d@example.com", i)), "signup_id": s(strconv.Itoa(i)),
			"confirm_requested_at": s(now.Add(-age).UTC().Format(time.RFC3339Nano)),
		})
	})
}

// writeAll puts the n items gen makes into table, 25 to a BatchWriteItem,
// from 8 writers, retrying unprocessed items.
func writeAll(ctx context.Context, db *dynamodb.Client, table string, n int, gen func(i int) map[string]types.AttributeValue) error {
	jobs := make(chan []types.WriteRequest)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for reqs := range jobs {
				for len(reqs) > 0 {
					out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						break
					}
					reqs = out.UnprocessedItems[table]
				}
			}
		}()
	}
	var reqs []types.WriteRequest
	for i := 0; i < n; i++ {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: gen(i)}})
		if len(reqs) == 25 {
			jobs <- reqs
			reqs = nil
		}
	}
	if len(reqs) > 0 {
		jobs <- reqs
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

// child runs one mode in a new process and returns its result.
func child(mode string, tables map[string]string, now time.Time) (childResult, error) {
	self, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	b, _ := json.Marshal(tables)
	cmd := exec.Command(self, "-child", mode, "-tables", string(b), "-now", now.Format(time.RFC3339Nano))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return childResult{}, fmt.Errorf("%s child: %w", mode, err)
	}
	var r childResult
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("%s child output %q: %w", mode, out, err)
	}
	return r, nil
}

// peakRSS is the process's own high-water resident set (VmHWM), in KiB.
// (A child's rusage max RSS on Linux starts from the parent's at fork, so
// the child reads its own.)
func peakRSS() int64 { return peakRSSOf("self") }

// peakRSSOf reads a process's peak resident set (VmHWM) in KiB.
func peakRSSOf(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// runChild is the child process: the floor or the sweep, then its result
// as JSON on stdout.
func runChild(ctx context.Context, db *dynamodb.Client, mode string, tables map[string]string, now time.Time) error {
	start := time.Now()
	var r childResult
	switch mode {
	case "floor":
		// Exactly the due keys, from the index, deleted in batches.
		var mu sync.Mutex
		var wg sync.WaitGroup
		errs := make(chan error, privacy.RetentionShards)
		sem := make(chan struct{}, sweepWorkers)
		table := tables["SubjectsTable"]
		for shard := range privacy.RetentionShards {
			wg.Add(1)
			go func(shard int) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String("by-retention"),
					KeyConditionExpression: aws.String("retention_pk = :p AND retention_at <= :now"), Limit: aws.Int32(sweepPage),
					ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: privacy.RetentionShardName(shard)},
						":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}}})
				for p.HasMorePages() {
					page, err := p.NextPage(ctx)
					if err != nil {
						errs <- err
						return
					}
					var reqs []types.WriteRequest
					for _, it := range page.Items {
						reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}}})
					}
					for chunk := range slices.Chunk(reqs, 25) {
						for len(chunk) > 0 {
							out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: chunk}})
							if err != nil {
								errs <- err
								return
							}
							chunk = out.UnprocessedItems[table]
						}
					}
					mu.Lock()
					r.Entries += len(page.Items)
					r.Deleted += len(reqs)
					mu.Unlock()
				}
			}(shard)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
	case "sweep":
		s := &sweep.Sweeper{Classes: privacy.RetentionClasses(), Workers: sweepWorkers, PageSize: sweepPage,
			Store: &dynamo.Sweep{DB: db, Tables: map[privacy.Table]string{privacy.TableSubjects: tables["SubjectsTable"],
				privacy.TableLedger: tables["LedgerTable"], privacy.TableRequests: tables["RequestsTable"], privacy.TableOps: tables["OpsTable"]}},
			Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		rep, err := s.Run(ctx, sweep.Options{Budget: time.Hour})
		if err != nil {
			return err
		}
		r.Scanned, r.Entries = rep.Scanned, rep.Entries
		r.Deleted = rep.Counts[privacy.Retention().PendingSignup.Name]["deleted"]
	default:
		return fmt.Errorf("unknown child mode %q", mode)
	}
	r.Seconds = time.Since(start).Seconds()
	r.PeakKB = peakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

func printSweep(sw sweepBench) {
	fmt.Printf("retention floor (index query + batch delete of the %d due): %.2f s, max RSS %.1f MiB\n", sw.Due, sw.FloorSeconds, float64(sw.FloorMaxKB)/1024)
	fmt.Printf("retention sweep (whole policy):                      %.2f s, max RSS %.1f MiB\n", sw.SweepSeconds, float64(sw.SweepMaxKB)/1024)
	fmt.Printf("ratio sweep / floor (time)                          %.2f\n", sw.RatioVsFloor)
	fmt.Printf("items read per item due: %.2f at 1%% (index entries %.2f; a scan would read %.0f), %.2f at 10%% (%.2f s)\n",
		sw.ItemsReadPerDue, sw.EntriesReadPerDue, sw.ScanReadPerDue, sw.ItemsReadPerDue10, sw.SweepSeconds10)
}
