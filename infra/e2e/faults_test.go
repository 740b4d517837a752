package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func contactBody(addr string) string {
	b, _ := json.Marshal(map[string]any{"name": "Fault", "email": addr, "message": "Hello"})
	return string(b)
}

// With the mail service down, submissions still succeed; the emails wait in
// the mailer's retry queue (the stream moves on) and all arrive, once
// each, when it is back.
func TestSESDownNothingLost(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ses := localtest.OwnSES(t)
	svc.SES = ses.URL
	s := startStackWith(t, svc)
	u := localtest.Unique()
	ses.Stop()
	for i := 0; i < 3; i++ {
		resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody(fmt.Sprintf("down%d-%s@example.com", i, u)), nil)
		if resp.StatusCode != 202 {
			t.Fatalf("submission %d with SES down: %d %s", i, resp.StatusCode, out)
		}
	}
	time.Sleep(3 * time.Second) // the mailer fails and the stream retries meanwhile
	ses.Start(t)
	mine := localtest.Mentions(u)
	if got := localtest.WaitEmails(t, svc, 6, 60*time.Second, mine); len(got) != 6 {
		t.Fatalf("%d emails after SES came back, want 6", len(got))
	}
	s.idle(t)
	if got := localtest.Emails(t, svc, mine); len(got) != 6 {
		t.Fatalf("%d emails, want each exactly once (6)", len(got))
	}
	if !strings.Contains(s.logs.String(), "send failed; queued for retry") {
		t.Error("the outage left no trace in the mailer's log")
	}
}

// With DynamoDB down, a visitor is told to retry (503 with Retry-After) and
// nothing partial is stored; when it is back, everything works with no
// manual step, emails included.
func TestDynamoDBDownThenBack(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ddb := localtest.OwnDynamoDB(t, t.TempDir())
	svc.DynamoDB = ddb.URL
	s := startStackWith(t, svc)
	u := localtest.Unique()
	before := "before-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody(before), nil); resp.StatusCode != 202 {
		t.Fatalf("baseline: %d %s", resp.StatusCode, out)
	}
	ddb.Stop()
	resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody("during-"+u+"@example.com"), nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(out, `"unavailable"`) {
		t.Fatalf("during the outage: %d %v %s", resp.StatusCode, resp.Header, out)
	}
	if resp, _ := s.do(t, "GET", "/v1/health", "", "", nil); resp.StatusCode != 503 {
		t.Fatalf("health during the outage: %d", resp.StatusCode)
	}
	ddb.Start(t)
	after := "after-" + u + "@example.com"
	var code int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, _ := s.do(t, "POST", "/v1/contact", "application/json", contactBody(after), nil)
		if code = resp.StatusCode; code == 202 {
			break
		}
	}
	if code != 202 {
		t.Fatalf("after the restart: %d", code)
	}
	// Exactly the two accepted inquiries and their ledger entries (the
	// mailer's, from their records: waited for with the acknowledgements,
	// which it sends after writing them): the one answered 503 left
	// nothing behind.
	for _, addr := range []string{before, after} {
		if got := localtest.WaitEmails(t, svc, 1, 60*time.Second, func(e localtest.Email) bool { return e.To(addr) }); len(got) != 1 {
			t.Errorf("%s: %d acknowledgements, want 1", addr, len(got))
		}
		s.waitLedger(t, "S#"+string(s.hasher.Subject(addr)), "inquiry_received", 30*time.Second)
	}
	if n, l := len(s.items(t, "SubjectsTable")), len(s.items(t, "LedgerTable")); n != 2 || l != 2 {
		t.Fatalf("%d inquiries and %d ledger entries, want 2 and 2", n, l)
	}
	if got := localtest.Emails(t, svc, localtest.Mentions("during-"+u)); len(got) != 0 {
		t.Errorf("%d emails for the refused submission", len(got))
	}
}

// holdingProxy stands between a sender and the SES emulator: it forwards
// the first pass SendEmail calls (or all, until Hold) and holds the next
// ones until released, never forwarding a call whose caller has gone; it
// keeps when each forwarded call reached SES, as SES meters a send rate.
type holdingProxy struct {
	*httptest.Server
	pass    atomic.Int64
	sends   atomic.Int64
	held    atomic.Int64
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	times   []time.Time
}

// Release lets every held call and every later one through.
func (p *holdingProxy) Release() { p.once.Do(func() { close(p.release) }) }

// Hold holds every call from now until Release.
func (p *holdingProxy) Hold() { p.pass.Store(p.sends.Load()) }

// forwarded counts the calls that reached SES.
func (p *holdingProxy) forwarded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.times)
}

// rate is the calls a second that reached SES between the i-th and the
// j-th.
func (p *holdingProxy) rate(i, j int) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return float64(j-i) / p.times[j].Sub(p.times[i]).Seconds()
}

func newHoldingProxy(t *testing.T, target string, pass int64) *holdingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &holdingProxy{release: make(chan struct{})}
	p.pass.Store(pass)
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		send := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/outbound-emails")
		if send && p.sends.Add(1) > p.pass.Load() {
			// Read the body first: only then does the server watch the
			// connection and cancel the context when the caller dies.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			p.held.Add(1)
			select {
			case <-p.release:
			case <-r.Context().Done():
			}
			p.held.Add(-1)
			if r.Context().Err() != nil {
				return // the sender died waiting: SES never saw this email
			}
		}
		if send {
			p.mu.Lock()
			p.times = append(p.times, time.Now())
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { p.Release(); p.Close() })
	return p
}

// A mailer killed in the middle of a batch (SIGKILL of its runtime, as a
// Lambda crash or timeout): the stream retries the batch, and every email
// arrives exactly once. The kill comes while a send waits on SES, so the
// emails sent before it are marked sent and skipped on the retry, and the
// one it was sending is sent when its lease runs out (3 s here).
func TestMailerKilledMidBatchNoDuplicates(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ses := localtest.OwnSES(t)
	proxy := newHoldingProxy(t, ses.URL, 5)
	svc.SES = proxy.URL
	s := startStackOpts(t, svc, 1, map[string]string{"MAIL_LEASE_SECONDS": "3"}, nil)
	u := localtest.Unique()
	const n = 10
	for i := 0; i < n; i++ {
		if resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody(fmt.Sprintf("kill%d-%s@example.com", i, u)), nil); resp.StatusCode != 202 {
			t.Fatalf("submission %d: %d %s", i, resp.StatusCode, out)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("a send to be held", func() bool { return proxy.held.Load() > 0 })
	pids := s.Functions["MailerFunction"].RuntimePIDs()
	if len(pids) == 0 {
		t.Fatal("no mailer runtime process to kill")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", pid, err)
		}
	}
	waitFor("the held send to be abandoned", func() bool { return proxy.held.Load() == 0 })
	proxy.Release()

	sesOnly := localtest.Services{SES: ses.URL}
	mine := localtest.Mentions(u)
	if got := localtest.WaitEmails(t, sesOnly, 2*n, 60*time.Second, mine); len(got) != 2*n {
		t.Fatalf("%d emails after the crash, want %d", len(got), 2*n)
	}
	// The mailer is done when every send-marker says "sent": a send it
	// was not sure of (claimed, never marked) would show as "sending" and
	// be retried after its lease; count only after that.
	waitFor("every send-marker to be settled", func() bool {
		sent := 0
		for _, it := range s.items(t, "OpsTable") {
			if st := str(it, "state"); st == "sending" {
				return false
			} else if st == "sent" {
				sent++
			}
		}
		return sent == 2*n
	})
	per := map[string]int{}
	for _, m := range localtest.Emails(t, sesOnly, mine) {
		per[m.Subject+"|"+strings.Join(m.Destination.To, ",")+"|"+m.Body.Text]++
	}
	for k, c := range per {
		if c != 1 {
			t.Errorf("sent %d times: %.120q", c, k)
		}
	}
	if len(per) != 2*n {
		t.Errorf("%d distinct emails, want %d", len(per), 2*n)
	}
	if !strings.Contains(s.logs.String(), "stream MailerFunction: batch failed; retrying") {
		t.Error("the crash left no retry in the gateway's log")
	}
}

// SES throttling (429 TooManyRequestsException) for as long as it lasts:
// the stream does not retry (the records succeed, their emails queued);
// the mailer's retry queue sends every email exactly once when SES
// accepts again.
func TestSESThrottlingNothingLost(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ses := localtest.OwnSES(t)
	target, _ := url.Parse(ses.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var throttling atomic.Bool
	var refused atomic.Int64
	throttling.Store(true)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if throttling.Load() && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/outbound-emails") {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-Errortype", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message":"Maximum sending rate exceeded."}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	svc.SES = proxy.URL
	s := startStackWith(t, svc)
	u := localtest.Unique()
	for i := 0; i < 3; i++ {
		if resp, out := s.do(t, "POST", "/v1/contact", "application/json", contactBody(fmt.Sprintf("slow%d-%s@example.com", i, u)), nil); resp.StatusCode != 202 {
			t.Fatalf("submission %d: %d %s", i, resp.StatusCode, out)
		}
	}
	// Throttled through several retry rounds (1 s, then 2 s apart).
	for deadline := time.Now().Add(30 * time.Second); refused.Load() < 12; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d sends refused", refused.Load())
		}
	}
	mine := localtest.Mentions(u)
	if got := localtest.Emails(t, svc, mine); len(got) != 0 {
		t.Fatalf("%d emails through a throttled SES", len(got))
	}
	for _, retried := range []string{"stream MailerFunction: batch failed", "records reported failed; retrying"} {
		if strings.Contains(s.logs.String(), retried) {
			t.Errorf("the stream retried (%q): a throttled send held the shard", retried)
		}
	}
	throttling.Store(false)
	if got := localtest.WaitEmails(t, svc, 6, 60*time.Second, mine); len(got) != 6 {
		t.Fatalf("%d emails after the throttling ended, want 6", len(got))
	}
	s.idle(t)
	if got := localtest.Emails(t, svc, mine); len(got) != 6 {
		t.Fatalf("%d emails, want each exactly once (6)", len(got))
	}
}

// A scheduled run that fails (the deadline digest with SES down) is given
// up as Lambda gives it up (no retries, EventInvokeConfig) and recorded on
// FailureQueue, on the local SQS server; once SES is back, privacyctl
// replay feeds it back once: the digest arrives, and a second replay has
// nothing left to do.
func TestFailedRunIsReplayedOnce(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ses := localtest.OwnSES(t)
	svc.SES = ses.URL
	s := startStackWith(t, svc)
	u := localtest.Unique()
	if code, f := s.file(t, `{"email":"replay-`+u+`@example.com","type":"access"}`); code != 202 || f.ID == "" {
		t.Fatalf("file: %d %+v", code, f)
	}
	ses.Stop()
	resp, out := s.do(t, "POST", "/_local/invoke/DeadlineWatchFunction", "application/json", "{}",
		map[string]string{"X-Amz-Invocation-Type": "Event"})
	if resp.StatusCode != 202 {
		t.Fatalf("async invoke: %d %s", resp.StatusCode, out)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.logs.String(), "async DeadlineWatchFunction: given up after 1 attempts; recorded on"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failed run was not recorded on the failure queue")
		}
	}
	ses.Start(t)
	queue := s.Queues["FailureQueue"]
	replay := func() string {
		t.Helper()
		out, err := s.privacyctl(t, "replay", "-queue-url", queue)
		if err != nil {
			t.Fatalf("replay: %v %s", err, out)
		}
		return out
	}
	if out := replay(); !strings.Contains(out, "replayed an asynchronous invocation of DeadlineWatchFunction") ||
		!strings.Contains(out, "1 replayed, 0 failed") {
		t.Fatalf("first replay: %s", out)
	}
	digests := localtest.WaitEmails(t, svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.Contains(e.Subject, "Rights requests")
	})
	if len(digests) != 1 {
		t.Fatalf("%d digests after the replay", len(digests))
	}
	if out := replay(); !strings.Contains(out, "0 replayed, 0 failed") {
		t.Fatalf("second replay: %s", out)
	}
}

// A stream record that fails every attempt (a table the mailer needs is
// gone: the ops table, so its email can be neither sent nor queued; or the
// ledger, so the inquiry's entry cannot be written) is given up after the
// mapping's retries and its place in the stream recorded on FailureQueue;
// once the table is back, privacyctl replay reads the record back from
// the stream and feeds it to the mailer once: both emails arrive, each
// once, the inquiry has its one ledger entry, and a second replay has
// nothing to do.
func TestFailedStreamRecordIsReplayedOnce(t *testing.T) {
	t.Parallel()
	for _, gone := range []string{"OpsTable", "LedgerTable"} {
		t.Run(gone, func(t *testing.T) {
			t.Parallel()
			failedRecordReplayed(t, gone)
		})
	}
}

func failedRecordReplayed(t *testing.T, gone string) {
	svc := localtest.Need(t)
	s := startStackConfig(t, svc, 1, nil, nil, func(c *local.Config) { c.StreamRetryLimit = 1 })
	ctx := context.Background()
	table := s.Tables[gone]
	if _, err := s.DB().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		t.Fatal(err)
	}
	u := localtest.Unique()
	addr := "stream-" + u + "@example.com"
	store := dynamo.New(s.DB(), dynamo.Tables{Subjects: s.Tables["SubjectsTable"], Ledger: s.Tables["LedgerTable"]})
	inq := privacy.NewInquiry("inq-"+u, s.hasher.Subject(addr), privacy.ContactForm{Name: "S", Email: addr, Topic: "demo",
		Message: "M"}, "v", privacy.RequestMeta{ReceivedAt: time.Now()})
	if err := store.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(s.logs.String(), "stream MailerFunction: 1 records after 1 retries sent to"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failing record was not given up to the failure queue")
		}
	}
	// The cause fixed: the table is back (empty, as after a restore).
	if _, err := local.CreateTablesOnly(ctx, local.Config{Template: filepath.Join(localtest.Root(), "template.yaml"),
		DynamoDBEndpoint: svc.DynamoDB, TablePrefix: strings.TrimSuffix(table, gone)}); err != nil {
		t.Fatal(err)
	}
	replay := func() string {
		t.Helper()
		out, err := s.privacyctl(t, "replay", "-queue-url", s.Queues["FailureQueue"])
		if err != nil {
			t.Fatalf("replay: %v %s", err, out)
		}
		return out
	}
	if out := replay(); !strings.Contains(out, "replayed a batch of 1 stream records for MailerFunction") || !strings.Contains(out, "1 replayed, 0 failed") {
		t.Fatalf("first replay: %s", out)
	}
	mine := localtest.Mentions(u)
	if got := localtest.WaitEmails(t, svc, 2, 20*time.Second, func(e localtest.Email) bool { return e.To(addr) || mine(e) }); len(got) != 2 {
		t.Fatalf("%d emails after the replay, want 2 (acknowledgement, team)", len(got))
	}
	if out := replay(); !strings.Contains(out, "0 replayed, 0 failed") {
		t.Fatalf("second replay: %s", out)
	}
	s.idle(t)
	// The inquiry's entry: written by the mailer from the record (at once
	// when the ops table was gone, from the replay when the ledger was), once.
	s.waitLedger(t, "S#"+string(inq.Subject), "inquiry_received", 30*time.Second)
	if n := len(s.items(t, "LedgerTable")); n != 1 {
		t.Fatalf("%d ledger entries, want 1", n)
	}
	if got := localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(addr) || mine(e) }); len(got) != 2 {
		t.Fatalf("%d emails, want each exactly once (2)", len(got))
	}
}
