package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
)

// blackHole accepts connections and never answers, as a callback URL
// whose host takes the connection and then holds it does.
type blackHole struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{Listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.close)
	return b
}

// close stops accepting and drops every connection it held.
func (b *blackHole) close() {
	b.Listener.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

// callbacks records the OpenDSR callbacks a receiver got, checking each
// signature against the processor's key.
type callbacks struct {
	t   *testing.T
	c   *controller
	mu  sync.Mutex
	got map[string][]string // request id -> statuses, in order
}

func (cb *callbacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if err := opendsr.Verify(cb.c.pub, raw, r.Header.Get("X-OpenDSR-Signature")); err != nil {
		cb.t.Errorf("callback signature: %v", err)
	}
	var b struct {
		ID     string `json:"subject_request_id"`
		Status string `json:"request_status"`
	}
	_ = json.Unmarshal(raw, &b)
	cb.mu.Lock()
	cb.got[b.ID] = append(cb.got[b.ID], b.Status)
	cb.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (cb *callbacks) of(id string) []string {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]string(nil), cb.got[id]...)
}

func (cb *callbacks) requests() int {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return len(cb.got)
}

// Starvation: controller A has 50 requests whose callback URLs are black
// holes (a host that accepts the connection and never answers), filed
// before controller B's one. B's callback arrives within the callback
// function's first run, while A's still hang; A's are not lost: once their
// receiver answers, a later run delivers each once.
func TestCallbacksAreFairPerController(t *testing.T) {
	t.Parallel()
	s, roots, _ := openDSRStack(t, time.Hour, map[string]string{"CALLBACK_RETRY_BACKOFF": "1s"})
	u := localtest.Unique()
	a, b := s.issueController(t, "A "+u, roots), s.issueController(t, "B "+u, roots)
	hole := newBlackHole(t)
	bGot := &callbacks{t: t, c: b, got: map[string][]string{}}
	bRecv := &http.Server{Handler: bGot}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = bRecv.Serve(bl) }()
	t.Cleanup(func() { bRecv.Close() })

	create := func(c *controller, tag, callbackURL string) string {
		t.Helper()
		id := uuid.NewString()
		body := `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"access",` +
			`"submitted_time":"2026-11-28T10:00:00Z","status_callback_urls":["` + callbackURL + `"],` +
			`"subject_identities":[{"identity_type":"email","identity_format":"raw","identity_value":"` + tag + "-" + u + `@example.com"}]}`
		if code, _, out := c.call("POST", "/opendsr/v2/requests", []byte(body)); code != 201 {
			t.Fatalf("create %s: %d %v", tag, code, out)
		}
		return id
	}
	// The callback cursors with statuses still to deliver, by controller:
	// when each is due.
	queued := func() map[string][]int64 {
		t.Helper()
		out := map[string][]int64{}
		for _, it := range s.items(t, "OpsTable") {
			pending, _ := it["queue"].(*types.AttributeValueMemberL)
			if !strings.HasPrefix(str(it, "pk"), "CB#") || pending == nil || len(pending.Value) == 0 {
				continue
			}
			n, _ := it["next_at"].(*types.AttributeValueMemberN)
			at := int64(-1)
			if n != nil {
				at, _ = strconv.ParseInt(n.Value, 10, 64)
			}
			for _, c := range []*controller{a, b} {
				if strings.HasPrefix(str(it, "pk"), "CB#"+c.id+"#") {
					out[c.id] = append(out[c.id], at)
				}
			}
		}
		return out
	}
	waitQueued := func(c *controller, n int) []int64 {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if q := queued()[c.id]; len(q) == n {
				return q
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d callbacks queued for %s", len(queued()[c.id]), n, c.id)
			}
		}
	}
	var aIDs []string
	for i := range 50 {
		aIDs = append(aIDs, create(a, fmt.Sprintf("a%02d", i), fmt.Sprintf("http://%s/cb/%d", hole.Addr(), i)))
	}
	aDue := waitQueued(a, 50)
	time.Sleep(1100 * time.Millisecond) // B's callback is queued a second after A's: due after all of them
	bID := create(b, "b", "http://"+bl.Addr().String()+"/cb")
	if bDue := waitQueued(b, 1); bDue[0] <= slices.Max(aDue) {
		t.Fatalf("B's callback is due at %d, not after A's (%v): the test's premise", bDue[0], aDue)
	}

	// The first run: B's callback arrives while it runs (A's black holes
	// hold it); then the black holes drop their connections and the run
	// ends.
	runDone := make(chan string, 1)
	go func() { // no t.Fatal here: the test goroutine reads what it says
		long := &http.Client{Timeout: 2 * time.Minute} // a run lasts up to the function's 60 s
		resp, err := long.Post(s.URL+"/_local/invoke/CallbackFunction", "application/json", strings.NewReader(`{"retry_callbacks":true}`))
		if err != nil {
			runDone <- err.Error()
			return
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		runDone <- fmt.Sprintf("%d %s", resp.StatusCode, out)
	}()
	for len(bGot.of(bID)) == 0 {
		select {
		case out := <-runDone:
			t.Fatalf("the first run ended (%s) without B's callback, behind A's %d black holes", out, len(aIDs))
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case out := <-runDone:
		t.Fatalf("the run ended (%s) before A's black holes were dropped: were they tried at all?", out)
	default:
	}
	hole.close()
	if out := <-runDone; !strings.HasPrefix(out, "200 ") {
		t.Fatalf("the first run: %s", out)
	}
	if got := bGot.of(bID); fmt.Sprint(got) != "[pending]" {
		t.Fatalf("B's callbacks %v, want [pending]", got)
	}
	if left := queued()[a.id]; len(left) != 50 {
		t.Fatalf("%d of A's callbacks still queued after the first run, want all 50", len(left))
	}

	// A's receiver answers now, where the black hole was: a later run
	// delivers each of A's callbacks once.
	aGot := &callbacks{t: t, c: a, got: map[string][]string{}}
	al, err := net.Listen("tcp", hole.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	aRecv := &http.Server{Handler: aGot}
	go func() { _ = aRecv.Serve(al) }()
	t.Cleanup(func() { aRecv.Close() })
	for deadline := time.Now().Add(90 * time.Second); aGot.requests() < len(aIDs); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("A's callbacks delivered for %d of %d requests", aGot.requests(), len(aIDs))
		}
		if resp, out := s.do(t, "POST", "/_local/invoke/CallbackFunction", "application/json", `{"retry_callbacks":true}`, nil); resp.StatusCode != 200 {
			t.Fatalf("callback retry: %d %s", resp.StatusCode, out)
		}
	}
	for _, id := range aIDs {
		if got := aGot.of(id); fmt.Sprint(got) != "[pending]" {
			t.Errorf("A's request %s: callbacks %v, want [pending]", id, got)
		}
	}
	if got := bGot.of(bID); fmt.Sprint(got) != "[pending]" {
		t.Errorf("B's callbacks %v after the retries, want [pending] once", got)
	}
}
