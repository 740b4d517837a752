// Package e2e tests the system end to end: the real bootstraps under the
// runtime emulator behind the local gateway, DynamoDB Local and the SES
// emulator, driven over real HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

const localSecret = "e2e-test-secret-that-is-long-enough-0123456789"

// syncBuffer collects every log line of one stack.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type stack struct {
	*local.Stack
	svc    localtest.Services
	logs   *syncBuffer
	team   string
	hasher *privacy.Hasher
	// expectRefusals: the test is about calls IAM refuses.
	expectRefusals bool
	// tick is held by each run of the mailer's retry tick, and by idle
	// while it asks the stack whether it is idle (a tick is work).
	tick *sync.Mutex
}

// startStack runs a stack of the test's own: its own tables, its own team
// inbox address, its own log.
func startStack(t *testing.T) *stack {
	t.Helper()
	return startStackWith(t, localtest.Need(t))
}

// startStackWith runs a stack against the given services (fault tests pass
// services of their own, which they stop and start).
func startStackWith(t *testing.T, svc localtest.Services) *stack {
	t.Helper()
	return startStackOpts(t, svc, 2, nil, nil)
}

// startStackOpts runs a stack with pool emulator processes per function,
// extra environment for the functions (declared variables only, as SAM)
// and template parameters besides the test's own.
func startStackOpts(t *testing.T, svc localtest.Services, pool int, env, params map[string]string) *stack {
	t.Helper()
	return startStackConfig(t, svc, pool, env, params, nil)
}

// startStackConfig is startStackOpts with a last change to the stack's
// configuration (tune, when not nil).
func startStackConfig(t *testing.T, svc localtest.Services, pool int, env, params map[string]string, tune func(*local.Config)) *stack {
	t.Helper()
	// Failed sends wait a second in the retry queue, not a minute.
	// The team may apply an address change at once (the wait is a unit test's).
	// A processor's mailbox period is 2 seconds, not an hour (the retry
	// tick below sends its digests).
	fnEnv := map[string]string{"LOCAL_SECRET": localSecret, "MAIL_RETRY_BACKOFF": "1s", "MAIL_RETRY_MAX_BACKOFF": "2s",
		"PROCESSOR_MAIL_EVERY": "2s",
		"ADDRESS_CHANGE_WAIT":  "0s"}
	for k, v := range env {
		fnEnv[k] = v
	}
	if svc.RIE == "" {
		t.Fatal("PK_RIE must name aws-lambda-rie (make test sets it)")
	}
	buildDir := filepath.Join(localtest.Root(), ".local", "e2e-build")
	team := "team-" + localtest.Unique() + "@example.com"
	p := map[string]string{"TeamInbox": team, "SiteOrigins": "https://www.example.com"}
	for k, v := range params {
		p[k] = v
	}
	logs := &syncBuffer{}
	prefix := "e" + localtest.Unique() + "-"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := local.Config{
		Template: filepath.Join(localtest.Root(), "template.yaml"), Root: localtest.Root(), BuildDir: buildDir,
		RIE: svc.RIE, DynamoDBEndpoint: svc.DynamoDB, SESEndpoint: svc.SES, SQSEndpoint: svc.SQS, AsyncRetryDelay: 200 * time.Millisecond,
		TablePrefix: prefix, Addr: "127.0.0.1:0", Pool: pool,
		Params: p,
		Env:    fnEnv, Log: logs, NoSchedules: true,
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The schedules are off (each test runs what it needs by hand) but
	// the mailer's retry: every second here, as every minute in AWS.
	stop := make(chan struct{})
	done := make(chan struct{})
	tickMu := &sync.Mutex{}
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				tickMu.Lock()
				if resp, err := client.Post(s.URL+"/_local/invoke/MailerFunction", "application/json",
					strings.NewReader(`{"retry_mail":true}`)); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				tickMu.Unlock()
			}
		}
	}()
	st := &stack{svc: svc, logs: logs, team: team, tick: tickMu}
	t.Cleanup(func() {
		close(stop)
		<-done
		s.Close()
		// A call the stack's IAM refused is one AWS would refuse: a test
		// fails on it even when the code carried on (a fallback, a
		// retry), unless it is the refusal the test is about.
		if refused := refusals(logs.String()); len(refused) > 0 && !st.expectRefusals {
			t.Errorf("IAM refused (or could not check) %d calls:\n%s", len(refused), strings.Join(refused, "\n"))
		}
		if t.Failed() {
			t.Logf("stack log:\n%s", logs.String())
		}
		// Its tables go with it (DynamoDB Local keeps every table of the
		// run in memory otherwise, and is the run's largest user of CPU),
		// unless the test named tables of its own (shared, or kept).
		if cfg.TablePrefix == prefix {
			for _, name := range s.Tables {
				_, _ = s.DB().DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
			}
		}
	})
	h, err := privacy.NewHasher(lambdaenv.DeriveSecrets(localSecret).SubjectPepper)
	if err != nil {
		t.Fatal(err)
	}
	st.Stack, st.hasher = s, h
	return st
}

// idle waits until the stack has nothing left to do: nothing in flight,
// every stream and queue read to its end (local.Stack.WaitIdle), and no
// email waiting for the mailer's retry tick (a failed send's retry, a
// processor's digest at the end of its period). A test that checks that
// nothing more arrives (no second email, no other record) waits for this
// instead of a fixed time: whatever was coming has come.
func (s *stack) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		s.tick.Lock()
		err := s.WaitIdle(ctx)
		pending := 0
		if err == nil {
			pending, err = s.mailPending(ctx)
		}
		s.tick.Unlock()
		if err != nil {
			t.Fatalf("waiting for the stack to be idle: %v", err)
		}
		if pending == 0 {
			return
		}
		select { // the tick sends what is due
		case <-ctx.Done():
			t.Fatalf("waiting for the stack to be idle: %d emails still wait for the mailer's retry", pending)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pendingHorizon is how far ahead idle waits for a pending email: past
// the harness's retry backoff (MAIL_RETRY_MAX_BACKOFF 2 s) and mailbox
// period (PROCESSOR_MAIL_EVERY 2 s), and the 30 s period of the digest
// tests.
const pendingHorizon = 40 * time.Second

// mailPending counts the emails that wait for the mailer's retry tick
// and are due within pendingHorizon: the ops table's retries (due "mail")
// and processors' mailboxes holding requests for their next email (due
// "mailbox"). One due later (a test's mailbox period of an hour) is the
// test's to wait for, not idle's.
func (s *stack) mailPending(ctx context.Context) (int, error) {
	n := 0
	for _, due := range []string{"mail", "mailbox"} {
		out, err := s.DB().Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.Tables["OpsTable"]), IndexName: aws.String("by-due"),
			KeyConditionExpression: aws.String("due = :due AND next_at <= :by"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":due": &types.AttributeValueMemberS{Value: due},
				":by": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(pendingHorizon).Unix(), 10)}},
			Select: types.SelectCount})
		if err != nil {
			return 0, fmt.Errorf("pending mail: %w", err)
		}
		n += int(out.Count)
	}
	return n, nil
}

// refusals are the gateway's log lines of calls IAM refused, or that its
// AWS front could not check.
func refusals(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "\tIAM refused ") || strings.Contains(line, "\tIAM could not decide ") ||
			strings.Contains(line, "\tAWS front: ") {
			out = append(out, line)
		}
	}
	return out
}

// client sends requests from 127.0.0.77, so the source IP the functions
// see is one no other log line contains by accident.
var client = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.77")}}).DialContext},
}

// clientFrom returns a client that sends from another loopback address,
// for tests of per-IP limits.
func clientFrom(ip string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
}

func (s *stack) do(t *testing.T, method, path, contentType, body string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	return s.doWith(t, client, method, path, contentType, body, headers)
}

func (s *stack) doWith(t *testing.T, c *http.Client, method, path, contentType, body string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

// items returns every item of a table of the stack (the tables are the
// test's own, so a scan sees only what this test wrote).
func (s *stack) items(t *testing.T, logicalID string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := s.DB().Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.Tables[logicalID])})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// traces lists the tables and indexes of the stack where any item holds
// one of the needles: every table, and every index of each (an index keeps
// its own copy of what it projects).
func (s *stack) traces(t *testing.T, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	for _, logical := range []string{"SubjectsTable", "LedgerTable", "SuppressionTable", "RequestsTable", "OpsTable"} {
		name := s.Tables[logical]
		desc, err := s.DB().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		sources := []*string{nil}
		for _, gsi := range desc.Table.GlobalSecondaryIndexes {
			sources = append(sources, gsi.IndexName)
		}
		for _, index := range sources {
			p := dynamodb.NewScanPaginator(s.DB(), &dynamodb.ScanInput{TableName: aws.String(name), IndexName: index})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range page.Items {
					b, _ := json.Marshal(it)
					for _, n := range needles {
						if strings.Contains(string(b), n) {
							found = append(found, logical+"/"+aws.ToString(index))
						}
					}
				}
			}
		}
	}
	return found
}

// waitNoTrace waits until no table or index holds any of the needles.
func (s *stack) waitNoTrace(t *testing.T, within time.Duration, needles ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		found := s.traces(t, needles...)
		if len(found) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still held in %v", found)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
