// Command bench measures the system against floors measured in the same
// run, so the figures hold on any machine: `make bench` runs it with
// DynamoDB Local and the SES emulator up. Absolute times are printed for
// orientation; the claims are the ratios.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sdkhttp"
)

func ddbClient(endpoint string, opts ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.HTTPClient = sdkhttp.OwnBody(o.HTTPClient) // as the functions' clients are built
		}}, opts...)...)
}

type result struct {
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	MedianMS    float64 `json:"median_ms"`
	P99MS       float64 `json:"p99_ms"`
	RPS         float64 `json:"rps"`
	Errors      int64   `json:"errors"`
}

type report struct {
	Date    string `json:"date"`
	Machine string `json:"machine"`
	// LoadAverage is the machine's one-minute load average when the
	// bench started and when it ended (/proc/loadavg): on a shared
	// machine, what the figures ran beside.
	LoadAverage [2]float64 `json:"load_average"`
	// Quick is BENCH_QUICK=1's small run (make test's), not figures to quote.
	Quick bool `json:"quick"`
	// Sections says, per section, how long it took and, when it failed,
	// why: its figures are then missing or partial, the others stand.
	Sections map[string]sectionResult `json:"sections"`
	Results  []result                 `json:"results"`
	Ratios   map[string]float64       `json:"ratios"`
	Sizes    map[string]int64         `json:"bootstrap_bytes"`
	// SizesOf says how the binaries measured were built.
	SizesOf  string             `json:"bootstrap_build"`
	Cold     map[string]float64 `json:"cold_start_ms"`
	Sweep    sweepBench         `json:"sweep"`
	Rights   rightsBench        `json:"rights_requests"`
	Capacity []capacity         `json:"capacity_per_operation"`
	// WCU and RoundTrips are the same figures under fixed keys
	// (wcu.contact_submission, round_trips.newsletter_signup, …).
	WCU        map[string]float64 `json:"wcu"`
	RoundTrips map[string]int     `json:"round_trips"`
	PeakKB     map[string]int64   `json:"runtime_peak_rss_kb"`
	Campaign   campaignBench      `json:"campaign"`
	// CPU is the function processes' CPU time per request; the three
	// figures below are its per_request_ms, under the keys the issue
	// names.
	CPU                  cpuBench `json:"cpu_per_request"`
	CPUMSPerSignup       float64  `json:"cpu_ms_per_signup"`
	CPUMSPerContact      float64  `json:"cpu_ms_per_contact"`
	CPUMSPerRightsFiling float64  `json:"cpu_ms_per_rights_request"`
	// FanOut is the campaign's planner and senders measured apart at a
	// million subscribers.
	FanOut fanOutBench `json:"campaign_fan_out"`
	// mu guards Sections and Campaign when sections run at once (the
	// quick run's campaign runs beside the rest), and the writing of the
	// report.
	mu sync.Mutex
	// out is where the report is written after every section, so that a
	// bench killed or timed out midway keeps what it measured.
	out string
}

// run calls op n times from conc goroutines and summarises the latencies.
func run(name string, conc, n int, op func(i int) error) result {
	lat := make([]time.Duration, n)
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				if err := op(i); err != nil {
					errs.Add(1)
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return result{Name: name, Concurrency: conc, Requests: n, MedianMS: ms(lat[n/2]), P99MS: ms(lat[n*99/100]),
		RPS: float64(n) / total.Seconds(), Errors: errs.Load()}
}

func main() {
	mode := flag.String("child", "", "internal: run one retention-benchmark child (floor or sweep)")
	tables := flag.String("tables", "", "internal: the child's tables, JSON")
	at := flag.String("now", "", "internal: the child's clock, RFC 3339")
	coldOnly := flag.Bool("cold", false, "measure only the cold starts of the HTTP functions")
	cpuOnly := flag.Bool("cpu", false, "measure only the cold starts and the CPU per request, with its floor")
	cpuFloor := flag.Int("cpufloor", 0, "internal: make this many signups' unavoidable DynamoDB calls and print their CPU (a child)")
	campaignOnly := flag.Int("campaign", 0, "run only the fan-out campaign, to this many subscribers")
	sweepOnly := flag.Int("sweep", 0, "run only the retention sweep, on this many items")
	fanOutOnly := flag.Int("fanout", 0, "run only the campaign's planner and senders measured apart, to this many subscribers")
	flag.Parse()
	if *fanOutOnly > 0 {
		ddb := os.Getenv("PK_DYNAMODB_ENDPOINT")
		fb, err := benchFanOut(context.Background(), ddbClient(ddb), ddb, os.Getenv("PK_SES_ENDPOINT"), os.Getenv("PK_SQS_ENDPOINT"),
			*fanOutOnly, scaleFromEnv().FanOutSample)
		printFanOut(fb)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *sweepOnly > 0 {
		sw, err := benchSweep(context.Background(), ddbClient(os.Getenv("PK_DYNAMODB_ENDPOINT")), os.Getenv("PK_DYNAMODB_ENDPOINT"), *sweepOnly)
		printSweep(sw)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *campaignOnly > 0 {
		root, _ := os.Getwd()
		cb, err := benchCampaign(root, *campaignOnly, scaleFromEnv().CampaignRate, true)
		printCampaign(cb)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuFloor > 0 {
		var t map[string]string
		err := json.Unmarshal([]byte(*tables), &t)
		if err == nil {
			err = runCPUFloor(context.Background(), ddbClient(os.Getenv("PK_DYNAMODB_ENDPOINT")), t, *cpuFloor)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench cpu floor:", err)
			os.Exit(1)
		}
		return
	}
	if *mode != "" {
		var t map[string]string
		now, err := time.Parse(time.RFC3339Nano, *at)
		if err == nil {
			err = json.Unmarshal([]byte(*tables), &t)
		}
		if err == nil {
			err = runChild(context.Background(), ddbClient(os.Getenv("PK_DYNAMODB_ENDPOINT")), *mode, t, now)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(*coldOnly, *cpuOnly); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// scale is how big each benchmark runs: the full figures of make bench, or
// BENCH_QUICK=1's small ones (every section, the same JSON, in about two
// minutes here alone), which make test runs so that no benchmark rots
// unseen.
type scale struct {
	Quick bool
	// Requests is each row of the submission benchmarks.
	Requests int
	// ColdRuns is how many fresh runtime processes each cold start is
	// timed in.
	ColdRuns   int
	SweepItems int
	// RightsFew and RightsMany are the other subjects of the two table
	// sets; RightsTargets the subjects measured in each.
	RightsFew, RightsMany, RightsTargets int
	// CampaignSubscribers is TestCampaignFanOut's size (500 at least),
	// CampaignRate its configured sends a second.
	CampaignSubscribers int
	CampaignRate        float64
	// FanOutSubscribers is the planner's size, FanOutSample the emails
	// each concurrency of senders sends.
	FanOutSubscribers, FanOutSample int
}

// scaleFromEnv is BENCH_QUICK's scale or the full one, with the sizes
// BENCH_SWEEP_ITEMS, BENCH_RIGHTS_OTHERS, BENCH_CAMPAIGN_SUBSCRIBERS,
// BENCH_FANOUT_SUBSCRIBERS and BENCH_REQUESTS set apart.
func scaleFromEnv() scale {
	sc := scale{Requests: 400, ColdRuns: 9, SweepItems: 200000, RightsFew: 1000, RightsMany: 100000, RightsTargets: 40,
		CampaignSubscribers: 100000, CampaignRate: 100, FanOutSubscribers: 1000000, FanOutSample: 5000}
	if os.Getenv("BENCH_QUICK") == "1" {
		// Each section once, small: what it proves is that it works
		// (TestQuickBench), not its figures. The fan-out's two sender runs
		// (sample each, up to 5 batches of 50 over) fit in its subscribers.
		sc = scale{Quick: true, Requests: 10, ColdRuns: 3, SweepItems: 1000, RightsFew: 100, RightsMany: 500, RightsTargets: 10,
			CampaignSubscribers: 500, CampaignRate: 200, FanOutSubscribers: 1000, FanOutSample: 100}
	}
	if v, err := strconv.ParseFloat(os.Getenv("BENCH_CAMPAIGN_RATE"), 64); err == nil && v > 0 {
		sc.CampaignRate = v
	}
	for name, p := range map[string]*int{"BENCH_SWEEP_ITEMS": &sc.SweepItems, "BENCH_RIGHTS_OTHERS": &sc.RightsMany,
		"BENCH_CAMPAIGN_SUBSCRIBERS": &sc.CampaignSubscribers, "BENCH_FANOUT_SUBSCRIBERS": &sc.FanOutSubscribers,
		"BENCH_REQUESTS": &sc.Requests} {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			*p = v
		}
	}
	return sc
}

// sectionResult is how one section of the benchmark went: its figures are
// under their own keys; a section that failed says why here, and the others
// are written all the same.
type sectionResult struct {
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// sections are the report's sections, in the order they run.
var sections = []string{"bootstrap_bytes", "stack", "cold_start_ms", "submissions", "capacity_per_operation",
	"cpu_per_request", "runtime_peak_rss_kb", "sweep", "rights_requests", "campaign_fan_out", "campaign"}

// section runs one section and records its time and its error (a panic
// too): one that fails loses its own figures, not the others'.
func (rep *report) section(name string, f func() error) {
	start := time.Now()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return f()
	}()
	r := sectionResult{Seconds: time.Since(start).Seconds()}
	if err != nil {
		r.Error = err.Error()
		fmt.Fprintf(os.Stderr, "bench: section %s failed: %v\n", name, err)
	}
	rep.mu.Lock()
	rep.Sections[name] = r
	rep.mu.Unlock()
}

// step runs one section of the main sequence and writes the report as it
// stands: a bench killed in a later section (a harness's timeout) leaves
// the figures of every section before it. Only the main sequence writes:
// the quick run's campaign, beside it, sets only Campaign and its section
// under mu.
func (rep *report) step(name string, f func() error) {
	rep.section(name, f)
	if err := rep.save(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: writing %s: %v\n", rep.out, err)
	}
}

// save writes the report to rep.out.
func (rep *report) save() error {
	if err := os.MkdirAll(filepath.Dir(rep.out), 0o755); err != nil {
		return err
	}
	rep.mu.Lock()
	b, err := json.MarshalIndent(rep, "", "  ")
	rep.mu.Unlock()
	if err != nil {
		return err
	}
	// Written whole and renamed, so a reader never sees half a report.
	tmp := rep.out + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, rep.out)
}

// failed lists the sections that failed.
func (rep *report) failed() []string {
	var out []string
	for _, name := range sections {
		if rep.Sections[name].Error != "" {
			out = append(out, name)
		}
	}
	return out
}

func bench(coldOnly, cpuOnly bool) error {
	coldOnly = coldOnly || cpuOnly
	ctx := context.Background()
	root, _ := os.Getwd()
	ddb, ses, sqsURL, rie := os.Getenv("PK_DYNAMODB_ENDPOINT"), os.Getenv("PK_SES_ENDPOINT"), os.Getenv("PK_SQS_ENDPOINT"), os.Getenv("PK_RIE")
	if ddb == "" || ses == "" || sqsURL == "" || rie == "" {
		return fmt.Errorf("run through make bench (needs PK_DYNAMODB_ENDPOINT, PK_SES_ENDPOINT, PK_SQS_ENDPOINT, PK_RIE)")
	}
	sc := scaleFromEnv()
	out := os.Getenv("BENCH_OUT")
	if out == "" {
		out = ".local/bench/results.json"
		if sc.Quick {
			out = ".local/bench/quick.json"
		}
	}
	rep := report{Date: time.Now().UTC().Format("2006-01-02"), Quick: sc.Quick, Ratios: map[string]float64{},
		Sizes: map[string]int64{}, Cold: map[string]float64{}, Sections: map[string]sectionResult{}, out: out}
	rep.Machine = fmt.Sprintf("%s/%s, %d cores", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	rep.LoadAverage[0] = loadAverage()

	// The campaign runs with services of its own. The quick run starts it
	// beside the other sections, whose figures it does not quote, so that
	// make test waits for it less; make bench runs it last, alone.
	campaign := func() (err error) {
		fmt.Printf("\ncampaign: %d subscribers through the local SQS server ...\n", sc.CampaignSubscribers)
		// Held to the configured rate within 10% (PK_CAMPAIGN_STRICT), but
		// in the quick run, which make test runs beside its other tests,
		// only below 110% of it.
		cb, err := benchCampaign(root, sc.CampaignSubscribers, sc.CampaignRate, !sc.Quick)
		printCampaign(cb)
		rep.mu.Lock()
		rep.Campaign = cb
		rep.mu.Unlock()
		return err
	}
	var beside sync.WaitGroup
	if sc.Quick && !coldOnly {
		beside.Add(1)
		go func() {
			defer beside.Done()
			rep.section("campaign", campaign)
		}()
	}

	sizes := func() {
		rep.step("bootstrap_bytes", func() (err error) {
			rep.Sizes, rep.SizesOf, err = bootstrapSizes(root, sc.Quick)
			return err
		})
	}
	if !sc.Quick {
		sizes()
	}

	// The stack: every function under the runtime emulator, the campaign
	// sender on the local SQS server as in make test.
	var s *local.Stack
	rep.step("stack", func() error {
		t0 := time.Now()
		var err error
		s, err = local.Start(ctx, local.Config{Template: "template.yaml", Root: root, BuildDir: ".local/bench/build",
			RIE: rie, DynamoDBEndpoint: ddb, SESEndpoint: ses, SQSEndpoint: sqsURL, TablePrefix: "b" + uuid.NewString()[:8] + "-",
			Addr: "127.0.0.1:0", Pool: 4, Env: map[string]string{"LOCAL_SECRET": "bench-secret-0123456789-0123456789"},
			NoSchedules: true, Log: io.Discard})
		if err != nil {
			return err
		}
		rep.Cold["stack_start_incl_build"] = float64(time.Since(t0).Milliseconds())
		return nil
	})
	if s != nil {
		defer s.Close()
	}
	if sc.Quick {
		sizes() // the stack's build, just made
	}
	// onStack runs a section that needs the stack, or records that it had none.
	onStack := func(name string, f func() error) {
		rep.step(name, func() error {
			if s == nil {
				rep.mu.Lock() // the quick run's campaign writes Sections meanwhile
				defer rep.mu.Unlock()
				return fmt.Errorf("no stack: %s", rep.Sections["stack"].Error)
			}
			return f()
		})
	}
	onStack("cold_start_ms", func() error {
		// The first invocation of a fresh emulator process includes the
		// bootstrap's init (config, secrets, clients).
		t1 := time.Now()
		resp, err := http.Get(s.URL + "/v1/health")
		if err != nil {
			return fmt.Errorf("health: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: status %d", resp.StatusCode)
		}
		rep.Cold["forms_first_invoke"] = float64(time.Since(t1).Microseconds()) / 1000
		cold, err := coldStarts(ctx, s.Functions, sc.ColdRuns)
		for id, ms := range cold {
			rep.Cold[id] = ms
		}
		return err
	})
	cpu := func() {
		onStack("cpu_per_request", func() (err error) {
			rep.CPU, err = benchCPU(ctx, s, ses, sc.Requests)
			rep.CPUMSPerSignup, rep.CPUMSPerContact = rep.CPU.PerRequest["signup"], rep.CPU.PerRequest["contact"]
			rep.CPUMSPerRightsFiling = rep.CPU.PerRequest["rights_request"]
			return err
		})
	}
	if cpuOnly {
		cpu()
		printCPU(rep.CPU)
	}
	if coldOnly {
		for _, id := range sortedKeys(rep.Cold) {
			fmt.Printf("cold start %-22s %.1f ms (median of %d fresh runtime processes)\n", id, rep.Cold[id], sc.ColdRuns)
		}
		if failed := rep.failed(); len(failed) > 0 {
			return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
		}
		return nil
	}

	db := ddbClient(ddb)
	onStack("submissions", func() error { return benchSubmissions(ctx, s, db, sc.Requests, &rep) })
	onStack("capacity_per_operation", func() error {
		caps, err := benchCapacity(ctx, ddb, dynamo.Tables{Subjects: s.Tables["SubjectsTable"], Ledger: s.Tables["LedgerTable"],
			Suppression: s.Tables["SuppressionTable"], Requests: s.Tables["RequestsTable"], Ops: s.Tables["OpsTable"]})
		if err != nil {
			return err
		}
		rep.Capacity, rep.WCU, rep.RoundTrips = caps, map[string]float64{}, map[string]int{}
		for _, c := range caps {
			key := strings.ReplaceAll(c.Operation, " ", "_")
			rep.WCU[key], rep.RoundTrips[key] = c.WCU, c.RoundTrips
		}
		return nil
	})
	cpu()
	// Peak memory: each runtime process's high-water mark (VmHWM) after
	// every invocation above; the largest of a function's pool.
	onStack("runtime_peak_rss_kb", func() error {
		rep.PeakKB = map[string]int64{}
		for id, fn := range s.Functions {
			for _, pid := range fn.RuntimePIDs() {
				rep.PeakKB[id] = max(rep.PeakKB[id], peakRSSOf(strconv.Itoa(pid)))
			}
		}
		if len(rep.PeakKB) == 0 {
			return fmt.Errorf("no runtime process to read")
		}
		return nil
	})
	printFigures(&rep)

	fmt.Printf("\nretention sweep: %d items, 1%% due, then 10%% ...\n", sc.SweepItems)
	rep.step("sweep", func() (err error) {
		rep.Sweep, err = benchSweep(ctx, db, ddb, sc.SweepItems)
		printSweep(rep.Sweep)
		return err
	})

	fmt.Printf("\nrights requests: one subject among %d and among %d others ...\n", sc.RightsFew, sc.RightsMany)
	rep.step("rights_requests", func() (err error) {
		rb, err := benchRights(ctx, db, ddb, sc.RightsFew, sc.RightsMany, sc.RightsTargets)
		rep.Rights = rb
		if err != nil {
			return err
		}
		for k, others := range rb.Others {
			fmt.Printf("among %6d others (%7d items): access export %.2f ms, erasure %.2f ms (medians of %d subjects)\n",
				others, rb.Items[k], rb.AccessMS[k], rb.EraseMS[k], rb.Targets)
		}
		fmt.Printf("ratio access many / few               %.2f\n", rb.AccessRatio)
		fmt.Printf("ratio erasure many / few              %.2f\n", rb.EraseRatio)
		return nil
	})

	fmt.Printf("\ncampaign fan-out: the planner to %d subscribers, then senders unpaced ...\n", sc.FanOutSubscribers)
	rep.step("campaign_fan_out", func() (err error) {
		rep.FanOut, err = benchFanOut(ctx, db, ddb, ses, sqsURL, sc.FanOutSubscribers, sc.FanOutSample)
		printFanOut(rep.FanOut)
		return err
	})

	if !sc.Quick {
		rep.step("campaign", campaign)
	}
	beside.Wait()

	var errs int64
	for _, r := range rep.Results {
		errs += r.Errors
	}
	if errs > 0 && rep.Sections["submissions"].Error == "" {
		rep.Sections["submissions"] = sectionResult{Seconds: rep.Sections["submissions"].Seconds,
			Error: fmt.Sprintf("%d requests failed", errs)}
	}
	rep.LoadAverage[1] = loadAverage()
	if err := rep.save(); err != nil {
		return err
	}
	fmt.Println("written", out)
	if failed := rep.failed(); len(failed) > 0 {
		return fmt.Errorf("failed: %s (each one's error is in %s)", strings.Join(failed, ", "), out)
	}
	return nil
}

// bootstrapSizes builds every function as deployed (linux/arm64, stripped,
// -tags lambda.norpc; one go build for all) and returns each one's size
// and how they were built. The quick run reads instead the binaries the
// local stack built (the same flags, for this machine's architecture):
// cross-building every package for arm64 on a fresh clone's empty cache
// was the longest part of make test's quick bench.
func bootstrapSizes(root string, quick bool) (map[string]int64, string, error) {
	dist, of := local.BuildDir(root), fmt.Sprintf("linux/%s, stripped, as the local stack built them (quick)", runtime.GOARCH)
	if !quick {
		if err := os.MkdirAll(filepath.Join(root, ".local", "bench"), 0o755); err != nil {
			return nil, "", err
		}
		tmp, err := os.MkdirTemp(filepath.Join(root, ".local", "bench"), "dist-")
		if err != nil {
			return nil, "", err
		}
		defer os.RemoveAll(tmp)
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", tmp+string(filepath.Separator),
			"./functions/...")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("build: %v\n%s", err, b)
		}
		dist, of = tmp, "linux/arm64, stripped, as deployed"
	}
	fnDirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, of, err
	}
	sizes := map[string]int64{}
	for _, d := range fnDirs {
		st, err := os.Stat(filepath.Join(dist, d.Name()))
		if err != nil {
			return sizes, of, err
		}
		sizes[d.Name()] = st.Size()
	}
	return sizes, of, nil
}

// signupFloor is the DynamoDB calls a signup cannot avoid, made directly
// with the SDK in the same order: the two abuse-limit counters (source
// IP, address), the restriction check, and the subscription with its
// ledger entry; tag makes its addresses its own.
func signupFloor(ctx context.Context, store *dynamo.Store, tag string) func(i int) error {
	hasher, _ := privacy.NewHasher([]byte("bench-pepper-0123456789"))
	return func(i int) error {
		email := fmt.Sprintf("floor-%s-%d@example.com", tag, i)
		subject := hasher.Subject(email)
		for _, key := range []string{fmt.Sprintf("ip#%d", i), string(subject)} {
			if _, err := store.Allow(ctx, "floor#"+key, 1000, time.Now()); err != nil {
				return err
			}
		}
		if _, err := store.Restriction(ctx, subject); err != nil {
			return err
		}
		_, err := store.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: email, Topics: []string{"newsletter"}},
			Subject: subject, ID: uuid.NewString(), Cooldown: 10 * time.Minute,
			Event: privacy.Event{Subject: subject, Name: "subscribe_requested", At: time.Now()}})
		return err
	}
}

// benchSubmissions measures contact forms and signups through the gateway
// against their floor, the SDK calls they cannot avoid, n requests a row.
func benchSubmissions(ctx context.Context, s *local.Stack, db *dynamodb.Client, n int, rep *report) error {
	store := dynamo.New(db, dynamo.Tables{Subjects: s.Tables["SubjectsTable"], Ledger: s.Tables["LedgerTable"], Ops: s.Tables["OpsTable"]})
	hasher, _ := privacy.NewHasher([]byte("bench-pepper-0123456789"))

	// The floors: the DynamoDB calls a submission cannot avoid, made
	// directly with the SDK in the same order: the two abuse-limit counters
	// (source IP, address), then for a contact the inquiry and its ledger
	// entry in one transaction; for a signup the restriction check and the
	// subscription with its ledger entry.
	limits := func(email string, i int) error {
		for _, key := range []string{fmt.Sprintf("ip#%d", i), string(hasher.Subject(email))} {
			if _, err := store.Allow(ctx, "floor#"+key, 1000, time.Now()); err != nil {
				return err
			}
		}
		return nil
	}
	floors := map[string]func(tag string) func(i int) error{
		"contact": func(tag string) func(i int) error {
			return func(i int) error {
				email := fmt.Sprintf("floor-%s-%d@example.com", tag, i)
				f := privacy.ContactForm{Name: "Bench", Email: email, Topic: "question", Message: "Benchmark message"}
				if err := limits(email, i); err != nil {
					return err
				}
				inq := privacy.NewInquiry(uuid.NewString(), hasher.Subject(email), f, "v", privacy.RequestMeta{ReceivedAt: time.Now()})
				return store.SaveInquiry(ctx, inq)
			}
		},
		"signup": func(tag string) func(i int) error { return signupFloor(ctx, store, tag) },
	}
	// Through the gateway, each submission comes from its own loopback
	// address (as many visitors would), so the per-IP limits stay out of it.
	const sources = 1000
	transports := make([]*http.Transport, sources)
	for k := range transports {
		ip := net.IPv4(127, 5, byte(k/250), byte(k%250+1))
		transports[k] = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}
	}
	var sent atomic.Int64
	submit := func(path, tag string) func(i int) error {
		return func(i int) error {
			email := fmt.Sprintf("%s-%d@example.com", tag, i)
			body := fmt.Sprintf(`{"name":"Bench","email":%q,"message":"Benchmark message"}`, email)
			if path == "/v1/subscriptions" {
				body = fmt.Sprintf(`{"email":%q,"consent":true}`, email)
			}
			c := &http.Client{Transport: transports[int(sent.Add(1))%sources]}
			resp, err := c.Post(s.URL+path, "application/json", bytes.NewBufferString(body))
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	for _, route := range []struct{ name, path string }{{"contact", "/v1/contact"}, {"signup", "/v1/subscriptions"}} {
		for _, conc := range []int{1, 16} {
			tag := fmt.Sprintf("%s-c%d", route.name, conc)
			f := run("floor: SDK calls of a "+route.name, conc, n, floors[route.name](tag))
			c := run(route.name+" via gateway+RIE", conc, n, submit(route.path, tag))
			rep.Results = append(rep.Results, f, c)
			rep.Ratios[fmt.Sprintf("%s_median_vs_floor_c%d", route.name, conc)] = c.MedianMS / f.MedianMS
			rep.Ratios[fmt.Sprintf("%s_rps_vs_floor_c%d", route.name, conc)] = c.RPS / f.RPS
		}
	}
	return nil
}

// printFigures prints the submissions, ratios, capacity, sizes, memory and
// cold start.
func printFigures(rep *report) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "benchmark\tconc\tn\tmedian ms\tp99 ms\treq/s\terrors\n")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%s\t%d\t%d\t%.2f\t%.2f\t%.0f\t%d\n", r.Name, r.Concurrency, r.Requests, r.MedianMS, r.P99MS, r.RPS, r.Errors)
	}
	w.Flush()
	fmt.Println()
	for _, k := range sortedKeys(rep.Ratios) {
		fmt.Printf("ratio %-32s %.2f\n", k, rep.Ratios[k])
	}
	fmt.Println()
	cw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(cw, "operation\tRCU\tWCU\tminimum WCU\tWCU / minimum\tround trips\tthe minimum\n")
	for _, c := range rep.Capacity {
		fmt.Fprintf(cw, "%s\t%.1f\t%.1f\t%.0f\t%.2f\t%d\t%s\n", c.Operation, c.RCU, c.WCU, c.MinWCU, c.Ratio, c.RoundTrips, c.Minimum)
	}
	cw.Flush()
	fmt.Println()
	for _, fn := range sortedKeys(rep.Sizes) {
		fmt.Printf("bootstrap %-12s %.1f MiB (%s)\n", fn, float64(rep.Sizes[fn])/(1<<20), rep.SizesOf)
	}
	for _, id := range sortedKeys(rep.PeakKB) {
		fmt.Printf("peak RSS %-22s %.1f MiB (runtime process, after the benchmarks' invocations)\n", id, float64(rep.PeakKB[id])/1024)
	}
	for _, id := range sortedKeys(rep.Cold) {
		fmt.Printf("cold start %-22s %.1f ms\n", id, rep.Cold[id])
	}
	printCPU(rep.CPU)
}

// printCPU prints the CPU per request and its floor.
func printCPU(c cpuBench) {
	for _, k := range sortedKeys(c.ByFunction) {
		fmt.Printf("cpu %-34s %.2f ms a request\n", k, c.ByFunction[k])
	}
	for _, k := range sortedKeys(c.PerRequest) {
		fmt.Printf("cpu per %-30s %.2f ms (function processes, its email included; %d requests)\n", k, c.PerRequest[k], c.Requests)
	}
	fmt.Printf("cpu floor: a signup's DynamoDB calls made with the SDK alone, %.2f ms; forms per signup / floor %.2f\n",
		c.FloorMSPerSignup, c.FormsVsFloor)
	fmt.Printf("cpu of an invocation that makes no call (a honeypot signup), forms: %.2f ms\n", c.InvocationMS)
}

// loadAverage is the one-minute load average, or 0 where /proc/loadavg
// cannot be read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
