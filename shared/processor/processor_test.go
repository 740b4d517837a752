package processor_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

// api is the processor's routes over a store on DynamoDB Local, called as
// API Gateway would, with controller acme's credentials; every answer's
// signature is checked.
type api struct {
	t     *testing.T
	store *dynamo.Store
	svc   *processor.Service
	rt    *httpapi.Router
	pub   *rsa.PublicKey
	t0    time.Time
	// as is the controller that calls (acme or beta; "" for none).
	as     string
	hasher *privacy.Hasher
}

func newAPI(t *testing.T) *api {
	t.Helper()
	store := newStore(t)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := opendsr.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), "opendsr.example.com")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := privacy.NewHasher([]byte("processor-test-pepper"))
	// The clock starts at this hour: rate counters expire (DynamoDB Local
	// runs TTL) after their window, counted from it.
	a := &api{t: t, store: store, pub: &key.PublicKey, t0: time.Now().UTC().Truncate(time.Hour)}
	a.svc = &processor.Service{Store: store, Hasher: h, Signer: signer, BaseURL: "https://privacy.example.com",
		Window: 15 * time.Minute, Region: privacy.RegionUS, Now: func() time.Time { return a.t0 }, Log: log}
	a.rt = httpapi.NewRouter(log, httpapi.Site{}, nil)
	a.svc.Routes(a.rt)
	for _, id := range []string{"acme", "beta"} {
		if err := store.PutController(context.Background(), privacy.Controller{ID: id, SecretHash: processor.SecretHash(h, "pw-"+id), Name: id, Region: privacy.RegionUS}, privacy.Event{At: a.t0}); err != nil {
			t.Fatal(err)
		}
	}
	a.hasher = h
	a.as = "acme"
	return a
}

const requests, one = "/opendsr/v2/requests", "/opendsr/v2/requests/{id}"

func (a *api) call(method, route, id, body string) (int, map[string]string, map[string]any) {
	a.t.Helper()
	route, query, _ := strings.Cut(route, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		a.t.Fatal(err)
	}
	r := events.APIGatewayV2HTTPRequest{RouteKey: method + " " + route, Body: body, Headers: map[string]string{},
		RawPath:        strings.NewReplacer("{id}", id, "{record_id}", id).Replace(route),
		PathParameters: map[string]string{"id": id, "record_id": id}, RawQueryString: query}
	if len(params) > 0 {
		r.QueryStringParameters = map[string]string{}
		for k := range params {
			r.QueryStringParameters[k] = params.Get(k)
		}
	}
	if a.as != "" {
		r.Headers["authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(a.as+":pw-"+a.as))
	}
	r.RequestContext = events.APIGatewayV2HTTPRequestContext{RequestID: "test"}
	resp, err := apigw.Handler(a.rt.Serve)(context.Background(), r)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := opendsr.Verify(a.pub, []byte(resp.Body), resp.Headers["X-OpenDSR-Signature"]); err != nil {
		a.t.Fatalf("%s %s: unsigned answer: %v", method, route, err)
	}
	var out map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &out)
	return resp.StatusCode, resp.Headers, out
}

func accessBody(id, email string) string {
	return `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"access","submitted_time":"2026-03-01T08:00:00Z",` +
		`"subject_identities":[{"identity_type":"email","identity_value":"` + email + `","identity_format":"raw"}]}`
}

// A request can be cancelled only while pending: in progress, completed
// or already cancelled, DELETE is 409 and changes nothing. The handlers
// run against DynamoDB Local; the states between are made by the worker's
// own store calls.
func TestCancelOnlyWhilePending(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	store, t0, ctx := a.store, a.t0, context.Background()
	call := func(method, route, id, body string) (int, map[string]any) {
		t.Helper()
		code, _, out := a.call(method, route, id, body)
		return code, out
	}
	create := func(email string) string {
		t.Helper()
		id := uuid.NewString()
		if code, out := call("POST", requests, "", accessBody(id, email)); code != 201 {
			t.Fatalf("create: %d %v", code, out)
		}
		return id
	}
	pending, inProgress, completed, cancelled := create("p@example.com"), create("i@example.com"), create("c@example.com"), create("x@example.com")
	after := t0.Add(time.Hour)
	for _, id := range []string{inProgress, completed} {
		if err := store.ClaimFulfilment(ctx, id, after, after.Add(-10*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	zero := 0
	if err := store.SetOutcome(ctx, completed, privacy.Outcome{Status: privacy.RequestCompleted, Results: &zero},
		privacy.Event{Name: "access_done", At: after, Ref: completed}); err != nil {
		t.Fatal(err)
	}
	if code, _ := call("DELETE", one, cancelled, ""); code != 202 {
		t.Fatalf("first cancel: %d", code)
	}
	for _, tc := range []struct {
		id, name   string
		code       int
		statusThen string
	}{
		{pending, "pending", 202, "cancelled"},
		{inProgress, "in progress", 409, "in_progress"},
		{completed, "completed", 409, "completed"},
		{cancelled, "cancelled", 409, "cancelled"},
	} {
		code, out := call("DELETE", one, tc.id, "")
		if code != tc.code {
			t.Errorf("cancel %s: %d %v, want %d", tc.name, code, out, tc.code)
		}
		if code, st := call("GET", one, tc.id, ""); code != 200 || st["request_status"] != tc.statusThen {
			t.Errorf("%s after the cancel: %d %v, want %s", tc.name, code, st, tc.statusThen)
		}
	}
	// An outcome the specification has no status for is named under the
	// processor's extension: a denial with its reason; a plain completion
	// has none.
	denied := create("d@example.com")
	if err := store.Transition(ctx, denied, privacy.Transition{Step: privacy.StepDeny, From: []privacy.Status{privacy.RequestPending}, Status: privacy.RequestDenied,
		Reason: "manifestly unfounded"}, privacy.Event{Name: "denied", At: after, Ref: denied}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		denied:    `{"opendsr.example.com":{"outcome":"denied","reason":"manifestly unfounded"}}`,
		completed: `null`,
	} {
		_, st := call("GET", one, id, "")
		if got, _ := json.Marshal(st["extensions"]); string(got) != want || st["request_status"] != "completed" {
			t.Errorf("%s: %s extensions %s, want %s", id, st["request_status"], got, want)
		}
	}
	// results_count is a v2 field, on completed requests only.
	if _, st := call("GET", one, completed, ""); st["results_count"] != 0.0 {
		t.Errorf("v2 status of a completed request: %v", st)
	}
	if _, st := call("GET", "/opendsr/v1/opengdpr_requests/{id}", completed, ""); st["results_count"] != nil {
		t.Errorf("v1 status carries results_count: %v", st)
	}
}

// A controller over its hourly limit gets 429 with Retry-After, signed,
// and nothing is stored; the next window admits it again.
func TestCreateLimitPerController(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.svc.CreateLimit = limit.Rule{Name: "opendsr_create", Max: 2, Window: time.Hour}
	for i := 0; i < 2; i++ {
		if code, _, out := a.call("POST", requests, "", accessBody(uuid.NewString(), fmt.Sprintf("l%d@example.com", i))); code != 201 {
			t.Fatalf("create %d: %d %v", i, code, out)
		}
	}
	id := uuid.NewString()
	code, h, out := a.call("POST", requests, "", accessBody(id, "l3@example.com"))
	if code != 429 || h["Retry-After"] != "3600" || out["error"] == nil {
		t.Fatalf("over the limit: %d %v %v", code, h, out)
	}
	if _, err := a.store.Request(context.Background(), id); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("a refused request was stored: %v", err)
	}
	a.t0 = a.t0.Add(time.Hour)
	if code, _, out := a.call("POST", requests, "", accessBody(id, "l3@example.com")); code != 201 {
		t.Fatalf("the next hour: %d %v", code, out)
	}
}

// resolver answers from a table, as DNS would.
type resolver map[string][]netip.Addr

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// A callback URL must not make this system call into its own network:
// refused at create by address and by what its name resolves to, nothing
// stored.
func TestCallbackHostsRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.svc.Resolver = resolver{
		"rebind.example":     {netip.MustParseAddr("203.0.114.9"), netip.MustParseAddr("127.0.0.1")},
		"metadata.example":   {netip.MustParseAddr("169.254.169.254")},
		"intranet.example":   {netip.MustParseAddr("10.0.0.1")},
		"v6.example":         {netip.MustParseAddr("::1")},
		"controller.example": {netip.MustParseAddr("203.0.114.10")},
	}
	body := func(id, url string) string {
		return `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"erasure","submitted_time":"2026-03-01T08:00:00Z",` +
			`"subject_identities":[{"identity_type":"email","identity_value":"cb@example.com","identity_format":"raw"}],` +
			`"status_callback_urls":["` + url + `"]}`
	}
	for _, url := range []string{"https://127.0.0.1/cb", "https://10.0.0.1/cb", "https://169.254.169.254/latest/meta-data",
		"https://[::1]/cb", "https://localhost/cb", "https://rebind.example/cb", "https://metadata.example/cb",
		"https://intranet.example/cb", "https://v6.example/cb", "https://nowhere.example/cb"} {
		id := uuid.NewString()
		code, _, out := a.call("POST", requests, "", body(id, url))
		if code != 400 || !strings.Contains(fmt.Sprint(out), "InvalidURL") {
			t.Errorf("%s: %d %v", url, code, out)
		}
		if _, err := a.store.Request(context.Background(), id); !errors.Is(err, privacy.ErrNotFound) {
			t.Errorf("%s: the refused request was stored (%v)", url, err)
		}
	}
	if code, _, out := a.call("POST", requests, "", body(uuid.NewString(), "https://controller.example/cb")); code != 201 {
		t.Fatalf("a public callback host: %d %v", code, out)
	}
}

// The callbacks' client checks the address it connects to, after DNS: a
// host that resolves to loopback now is refused, whatever it resolved to
// at create (DNS rebinding). Only the development setting allows it.
func TestCallbackClientRefusesInternalAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) // a name that resolves to loopback
	for _, target := range []string{srv.URL, u} {
		resp, err := opendsr.NewClient(false).Get(target)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: connected", target)
		}
		resp, err = opendsr.NewClient(true).Get(target)
		if err != nil {
			t.Errorf("%s with insecure callbacks allowed: %v", target, err)
		} else {
			resp.Body.Close()
		}
	}
}
