package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
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

// The retention benchmark: N pending signups, half past the 30 days, in
// DynamoDB Local. The floor is a plain parallel scan plus batch delete of
// the expired keys, written as simply as possible; the sweep is the real
// one with the whole policy. Each runs in a child process of its own, so
// its peak memory (max RSS) is its own.

const sweepSegments, sweepPage = 4, 500

type childResult struct {
	Scanned int     `json:"scanned"`
	Deleted int     `json:"deleted"`
	Seconds float64 `json:"seconds"`
	PeakKB  int64   `json:"peak_kb"`
}

type sweepBench struct {
	Items      int     `json:"items"`
	FloorIPS   float64 `json:"floor_items_per_s"`
	SweepIPS   float64 `json:"sweep_items_per_s"`
	Ratio      float64 `json:"sweep_vs_floor"`
	FloorMaxKB int64   `json:"floor_max_rss_kb"`
	SweepMaxKB int64   `json:"sweep_max_rss_kb"`
	Deleted    [2]int  `json:"deleted_floor_sweep"`
}

func benchSweep(ctx context.Context, db *dynamodb.Client, ddb string, n int) (sweepBench, error) {
	now := time.Now()
	// Two identical table sets, one for each contender, so neither runs on
	// a table the other has churned. Streams are off: DynamoDB Local keeps
	// stream records in the same process, which AWS does not.
	sets := make([]map[string]string, 2)
	for i := range sets {
		names, err := local.CreateTablesOnly(ctx, local.Config{Template: "template.yaml", DynamoDBEndpoint: ddb,
			TablePrefix: fmt.Sprintf("sw%d%d-", time.Now().UnixNano()%1e9, i)})
		if err != nil {
			return sweepBench{}, err
		}
		sets[i] = map[string]string{}
		for _, name := range names {
			for _, id := range []string{"SubjectsTable", "LedgerTable", "RequestsTable", "OpsTable"} {
				if strings.HasSuffix(name, id) {
					sets[i][id] = name
				}
			}
		}
		if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(sets[i]["SubjectsTable"]),
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
			return sweepBench{}, fmt.Errorf("disable stream: %w", err)
		}
		if err := seed(ctx, db, sets[i]["SubjectsTable"], n, now); err != nil {
			return sweepBench{}, err
		}
	}
	floor, err := child("floor", sets[0], now)
	if err != nil {
		return sweepBench{}, err
	}
	sw, err := child("sweep", sets[1], now)
	if err != nil {
		return sweepBench{}, err
	}
	r := sweepBench{Items: n, FloorIPS: float64(floor.Scanned) / floor.Seconds, SweepIPS: float64(sw.Scanned) / sw.Seconds,
		FloorMaxKB: floor.PeakKB, SweepMaxKB: sw.PeakKB, Deleted: [2]int{floor.Deleted, sw.Deleted}}
	r.Ratio = r.SweepIPS / r.FloorIPS
	if floor.Deleted != n/2 || sw.Deleted != n/2 {
		return r, fmt.Errorf("deleted %d (floor) and %d (sweep), want %d each", floor.Deleted, sw.Deleted, n/2)
	}
	return r, nil
}

// seed writes the items: odd ones expired (31 days old), even ones kept
// (1 day old).
func seed(ctx context.Context, db *dynamodb.Client, table string, n int, now time.Time) error {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	return writeAll(ctx, db, table, n, func(i int) map[string]types.AttributeValue {
		age := 24 * time.Hour
		if i%2 == 1 {
			age = 31 * 24 * time.Hour
		}
		return map[string]types.AttributeValue{
			"pk": s(fmt.Sprintf("S#%064d", i)), "sk": s("SUB"), "kind": s("subscription"), "status": s("pending"),
			"email": s(fmt.Sprintf("user%d@example.com", i)), "signup_id": s(strconv.Itoa(i)),
			"confirm_requested_at": s(now.Add(-age).UTC().Format(time.RFC3339Nano)),
		}
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
		var mu sync.Mutex
		var wg sync.WaitGroup
		errs := make(chan error, sweepSegments)
		for seg := 0; seg < sweepSegments; seg++ {
			wg.Add(1)
			go func(seg int) {
				defer wg.Done()
				p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(tables["SubjectsTable"]),
					Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(sweepSegments), Limit: aws.Int32(sweepPage)})
				for p.HasMorePages() {
					page, err := p.NextPage(ctx)
					if err != nil {
						errs <- err
						return
					}
					var reqs []types.WriteRequest
					for _, it := range page.Items {
						at, _ := time.Parse(time.RFC3339Nano, it["confirm_requested_at"].(*types.AttributeValueMemberS).Value)
						if !now.Before(at.AddDate(0, 0, 30)) {
							reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}}})
						}
					}
					for i := 0; i < len(reqs); i += 25 {
						chunk := reqs[i:min(i+25, len(reqs))]
						for len(chunk) > 0 {
							out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{tables["SubjectsTable"]: chunk}})
							if err != nil {
								errs <- err
								return
							}
							chunk = out.UnprocessedItems[tables["SubjectsTable"]]
						}
					}
					mu.Lock()
					r.Scanned += len(page.Items)
					r.Deleted += len(reqs)
					mu.Unlock()
				}
			}(seg)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
	case "sweep":
		s := &sweep.Sweeper{Classes: privacy.Policy(), Segments: sweepSegments, PageSize: sweepPage,
			Store: &dynamo.Sweep{DB: db, Tables: map[privacy.Table]string{privacy.TableSubjects: tables["SubjectsTable"],
				privacy.TableLedger: tables["LedgerTable"], privacy.TableRequests: tables["RequestsTable"], privacy.TableOps: tables["OpsTable"]}},
			Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		rep, err := s.Run(ctx, sweep.Options{Budget: time.Hour})
		if err != nil {
			return err
		}
		r.Scanned = rep.Scanned
		r.Deleted = rep.Counts[privacy.Retention().PendingSignup.Name]["deleted"]
	default:
		return fmt.Errorf("unknown child mode %q", mode)
	}
	r.Seconds = time.Since(start).Seconds()
	r.PeakKB = peakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}
