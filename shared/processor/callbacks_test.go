package processor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

// receiver is a controller's callback endpoint that can be taken down.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	down bool
	got  []string // "<request id> <status>", in arrival order
	pub  *rsa.PublicKey
	t    *testing.T
}

func newReceiver(t *testing.T, pub *rsa.PublicKey) *receiver {
	r := &receiver{pub: pub, t: t}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if err := opendsr.Verify(r.pub, raw, req.Header.Get("X-OpenDSR-Signature")); err != nil {
			t.Errorf("callback signature: %v", err)
		}
		var b struct {
			ID     string `json:"subject_request_id"`
			Status string `json:"request_status"`
		}
		_ = json.Unmarshal(raw, &b)
		r.got = append(r.got, b.ID+" "+b.Status)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) set(down bool) { r.mu.Lock(); r.down = down; r.mu.Unlock() }
func (r *receiver) received() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.got)
}

// newSigner makes a signing key for the processor domain of the tests.
func newSigner(t *testing.T) (*opendsr.Signer, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := opendsr.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), "opendsr.example.com")
	if err != nil {
		t.Fatal(err)
	}
	return signer, key
}

// A receiver that is down keeps its callbacks queued, in order, without
// holding back another controller's; the retry backs off, delivers each
// status once when the receiver is back, and gives up after GiveUp.
func TestCallbackOutbox(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	signer, key := newSigner(t)
	// The clock starts now: the cursors' expires_at follows it, and
	// DynamoDB Local's TTL deletes items whose expires_at has passed.
	t0 := time.Now().UTC().Truncate(time.Second)
	now := t0
	var logs bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("notifier log:\n%s", logs.String())
		}
	})
	nt := &processor.Notifier{Store: store, Signer: signer, Client: opendsr.NewClient(true), // the test receivers listen on loopback
		Log: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return now }, Lease: time.Minute,
		Backoff: 30 * time.Second, MaxBackoff: time.Hour, GiveUp: 24 * time.Hour}
	dead, live := newReceiver(t, &key.PublicKey), newReceiver(t, &key.PublicKey)
	dead.set(true)

	// A status change of a request as the stream brings it.
	change := func(id, url string, from, to privacy.Status) privacy.Change {
		r := privacy.RightsRequest{ID: id, Subject: "s", Type: privacy.RightAccess, Regulation: "gdpr",
			Status: to, ReceivedAt: t0, DueAt: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), Source: privacy.SourceOpenDSR,
			Controller: "c", CallbackURLs: []string{url}, OpenDSRVersion: 2}
		if err := store.CreateRequest(ctx, r, privacy.Event{Subject: "s", Name: "x", At: now, Ref: id + string(to)}); err != nil && from == "" {
			t.Fatal(err)
		}
		if from != "" { // the stored record follows the stream
			step := privacy.StepClaim
			if to == privacy.RequestCompleted {
				step = privacy.StepComplete
			}
			_ = store.Transition(ctx, id, privacy.Transition{Step: step, From: []privacy.Status{from}, Status: to},
				privacy.Event{Subject: "s", Name: privacy.EventName(to), At: now, Ref: id})
		}
		img := func(status privacy.Status) map[string]types.AttributeValue {
			if status == "" {
				return nil
			}
			r.Status = status
			item, _ := dynamo.EncodeRequest(r)
			return item
		}
		return dynamo.DecodeChange(privacy.Change{Seq: id + string(to)}, nil, img(from), img(to))
	}
	handle := func(changes ...privacy.Change) {
		t.Helper()
		if failed := nt.Handle(ctx, changes); len(failed) != 0 {
			t.Fatalf("stream batch: %v failed", failed)
		}
	}
	retry := func(at time.Duration) {
		t.Helper()
		now = t0.Add(at)
		if err := nt.Retry(ctx); err != nil {
			t.Fatal(err)
		}
	}

	handle(change("a", dead.URL, "", "pending"), change("b", live.URL, "", "pending"))
	handle(change("a", dead.URL, "pending", "in_progress"), change("b", live.URL, "pending", "in_progress"))
	handle(change("a", dead.URL, "pending", "in_progress")) // a stream retry queues nothing twice
	if got := live.received(); got != "[]" {
		t.Fatalf("the stream handler delivered (it only queues): %s", got)
	}
	retry(0) // the schedule's next run
	if got := live.received(); got != "[b pending b in_progress]" {
		t.Fatalf("the live receiver got %s while the other was down", got)
	}
	retry(20 * time.Second) // inside the first backoff: no attempt
	dead.set(false)
	retry(25 * time.Second)
	if got := dead.received(); got != "[]" {
		t.Fatalf("delivered before the backoff was over: %s", got)
	}
	retry(2 * time.Minute)
	if got := dead.received(); got != "[a pending a in_progress]" {
		t.Fatalf("after the receiver came back: %s", got)
	}
	retry(time.Hour) // nothing left: nothing sent twice
	if got := dead.received(); got != "[a pending a in_progress]" {
		t.Fatalf("a second retry: %s", got)
	}

	// Down for good: retried with growing waits, then given up.
	dead.set(true)
	handle(change("a", dead.URL, "in_progress", "completed"))
	attempts := 1
	for at := time.Hour; at < 26*time.Hour; at += 10 * time.Minute {
		now = t0.Add(at)
		keys, _ := store.DueCallbacks(ctx, now)
		attempts += len(keys)
		retry(at)
	}
	// 30 s doubling to the hour's cap: about 7 attempts in the first two
	// hours (each wait rounded up to the next 10-minute run), then one an
	// hour until the 24 h give-up: about 30, not one every run (145).
	if attempts < 25 || attempts > 35 {
		t.Errorf("%d attempts in 25 hours", attempts)
	}
	if keys, _ := store.DueCallbacks(ctx, t0.Add(48*time.Hour)); len(keys) != 0 {
		t.Errorf("an abandoned cursor is still due: %v", keys)
	}
	// The abandonment is a metric (CloudWatch's embedded metric format), so
	// an alarm watches it, not a log search.
	abandoned := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct {
			Msg string `json:"msg"`
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace string
					Metrics   []struct{ Name string }
				}
			} `json:"_aws"`
			Count int `json:"AbandonedCallbacks"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || !strings.Contains(l.Msg, "abandoned") {
			continue
		}
		m := l.AWS.CloudWatchMetrics
		if len(m) != 1 || m[0].Namespace != "privacykeeper" || len(m[0].Metrics) != 1 ||
			m[0].Metrics[0].Name != processor.MetricAbandonedCallbacks || l.Count != 1 {
			t.Errorf("abandonment logged without its metric: %s", line)
		}
		abandoned++
	}
	if abandoned != 1 {
		t.Errorf("%d abandonments logged, want 1", abandoned)
	}

	// A stream batch given up on, replayed (privacyctl replay marks its
	// items replayed_at, a change whose status is the same): the status a
	// lost record carried is queued and delivered; one delivered before
	// is not delivered again.
	replayed := func(c privacy.Change) privacy.Change {
		c.Replayed = true // what DecodeChange reads of a new replayed_at
		return c
	}
	handle(change("c", live.URL, "", "pending"))
	_ = change("c", live.URL, "pending", "in_progress") // stored; its stream record lost
	handle(replayed(change("c", live.URL, "in_progress", "in_progress")), replayed(change("b", live.URL, "in_progress", "in_progress")))
	retry(27 * time.Hour)
	if got := live.received(); got != "[b pending b in_progress c pending c in_progress]" {
		t.Fatalf("after the replay: %s", got)
	}
}

// One controller's receiver that hangs does not hold back another's
// callbacks in the same batch: cursors are delivered several at once.
func TestHangingReceiverDelaysNoOne(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	signer, key := newSigner(t)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	var called atomic.Bool
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called.Store(true)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(free) // runs first: a failing test does not wait on the hanging handler
	live := newReceiver(t, &key.PublicKey)
	now := time.Now().UTC()
	nt := &processor.Notifier{Store: store, Signer: signer, Client: opendsr.NewClient(true),
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return now }, Lease: time.Minute,
		Backoff: 30 * time.Second, MaxBackoff: time.Hour, GiveUp: 24 * time.Hour}
	var recs []privacy.Change
	for _, c := range []struct{ id, url string }{{"h", hanging.URL}, {"l", live.URL}} { // the hanging one first
		r := privacy.RightsRequest{ID: c.id, Subject: "s", Type: privacy.RightAccess, Regulation: "gdpr",
			Status: "pending", ReceivedAt: now, DueAt: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), Source: privacy.SourceOpenDSR,
			Controller: "c", CallbackURLs: []string{c.url}, OpenDSRVersion: 2}
		if err := store.CreateRequest(ctx, r, privacy.Event{Subject: "s", Name: "x", At: now, Ref: c.id}); err != nil {
			t.Fatal(err)
		}
		item, _ := dynamo.EncodeRequest(r)
		recs = append(recs, dynamo.DecodeChange(privacy.Change{Seq: c.id}, nil, nil, item))
	}
	// The stream handler only queues: it calls no receiver, so a hanging
	// one cannot hold the shard.
	if failed := nt.Handle(ctx, recs); len(failed) != 0 || called.Load() {
		t.Fatalf("stream batch: %v failed (a receiver called: %v)", failed, called.Load())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := nt.Retry(ctx); err != nil {
			t.Error(err)
		}
	}()
	// While the first receiver still hangs, the second has its callback.
	deadline := time.Now().Add(8 * time.Second) // under the client's 10 s timeout
	for live.received() != "[l pending]" {
		if time.Now().After(deadline) {
			t.Fatalf("the live receiver waited behind the hanging one: %s", live.received())
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("the run finished before the hanging receiver answered")
	default:
	}
	free()
	<-done
}

// One controller with 50 callback URLs that accept and never answer (a
// black hole, by mistake or to hold the workers) delays no other
// controller: the other's callback goes out in the same run while the
// first's hang, and no more than PerControllerInFlight of the first's are
// in flight at once.
func TestOneControllersBlackHolesStarveNoOne(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	signer, key := newSigner(t)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	var inFlight, most, ended atomic.Int64
	blackHole := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // read: the server then sees the client give up (r.Context)
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		inFlight.Add(-1)
		ended.Add(1)
	}))
	t.Cleanup(blackHole.Close)
	t.Cleanup(free) // runs first: a failing test does not wait on the black hole
	live := newReceiver(t, &key.PublicKey)
	now := time.Now().UTC()
	nt := &processor.Notifier{Store: store, Signer: signer, Client: opendsr.NewClient(true),
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return now }, Lease: time.Minute,
		Backoff: 30 * time.Second, MaxBackoff: time.Hour, GiveUp: 24 * time.Hour}
	var recs []privacy.Change
	add := func(controller, id, url string) {
		r := privacy.RightsRequest{ID: id, Subject: privacy.SubjectID("s-" + id), Type: privacy.RightAccess, Regulation: "gdpr",
			Status: "pending", ReceivedAt: now, DueAt: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), Source: privacy.SourceOpenDSR,
			Controller: controller, CallbackURLs: []string{url}, OpenDSRVersion: 2}
		if err := store.CreateRequest(ctx, r, privacy.Event{Subject: r.Subject, Name: "x", At: now, Ref: id}); err != nil {
			t.Fatal(err)
		}
		item, _ := dynamo.EncodeRequest(r)
		recs = append(recs, dynamo.DecodeChange(privacy.Change{Seq: id}, nil, nil, item))
	}
	handle := func() {
		t.Helper()
		if failed := nt.Handle(ctx, recs); len(failed) != 0 {
			t.Fatalf("stream batch: %v failed", failed)
		}
		recs = nil
	}
	for i := range 50 { // the first controller's, all due before the other's
		add("a", fmt.Sprintf("a-%02d", i), fmt.Sprintf("%s/cb/%d", blackHole.URL, i))
	}
	handle()
	now = now.Add(2 * time.Second)
	add("b", "b-1", live.URL)
	handle()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := nt.Retry(ctx); err != nil {
			t.Error(err)
		}
	}()
	// The other controller's callback arrives while the first's still
	// hang: before any of them has ended (they end only when released, or
	// at the client's timeout).
	for live.received() != "[b-1 pending]" {
		select {
		case <-done:
			t.Fatalf("the run ended without the second controller's callback: %s", live.received())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if n := ended.Load(); n != 0 {
		t.Fatalf("the second controller's callback waited until %d of the first's black holes gave up", n)
	}
	if m := most.Load(); m > processor.PerControllerInFlight {
		t.Fatalf("%d of one controller's callbacks in flight at once, want at most %d", m, processor.PerControllerInFlight)
	}
	free()
	<-done
}
