package processor_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// A request can be cancelled only while pending: in progress, completed
// or already cancelled, DELETE is 409 and changes nothing. The handlers
// run against DynamoDB Local; the states between are made by the worker's
// own store calls.
func TestCancelOnlyWhilePending(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
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
	tokens, _ := token.New([]byte("processor-test-token-key-0123456789"))
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := &processor.Service{Store: store, Hasher: h, Tokens: tokens, Signer: signer, BaseURL: "https://privacy.example.com",
		PolicyVersion: "v", Window: 15 * time.Minute, Every: processor.WorkerEvery, Now: func() time.Time { return t0 }, Log: log}
	rt := httpapi.NewRouter(log)
	s.Routes(rt)
	if err := store.PutController(ctx, dynamo.Controller{ID: "acme", SecretHash: processor.SecretHash(h, "pw"), Name: "Acme"}, t0); err != nil {
		t.Fatal(err)
	}
	call := func(method, route, id, body string) (int, map[string]any) {
		t.Helper()
		r := httpapi.Request{RouteKey: method + " " + route, RawPath: strings.Replace(route, "{id}", id, 1), Body: body,
			Headers:        map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("acme:pw"))},
			PathParameters: map[string]string{"id": id}}
		r.RequestContext = events.APIGatewayV2HTTPRequestContext{RequestID: "test"}
		resp, err := rt.Serve(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := opendsr.Verify(&key.PublicKey, []byte(resp.Body), resp.Headers["X-OpenDSR-Signature"]); err != nil {
			t.Fatalf("%s %s: unsigned answer: %v", method, route, err)
		}
		var out map[string]any
		_ = json.Unmarshal([]byte(resp.Body), &out)
		return resp.StatusCode, out
	}
	const requests, one = "/opendsr/v2/requests", "/opendsr/v2/requests/{id}"
	create := func(email string) string {
		t.Helper()
		id := uuid.NewString()
		body := `{"regulation":"gdpr","subject_request_id":"` + id + `","subject_request_type":"access","submitted_time":"2026-03-01T08:00:00Z",` +
			`"subject_identities":[{"identity_type":"email","identity_value":"` + email + `","identity_format":"raw"}]}`
		if code, out := call("POST", requests, "", body); code != 201 {
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
	if err := store.SetOutcome(ctx, completed, dynamo.Outcome{Status: privacy.RequestCompleted, Results: &zero},
		dynamo.Event{Name: "access_done", At: after, Ref: completed}); err != nil {
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
	// Outcomes the specification has no status for are named under the
	// processor's extension: a denial with its reason, data kept under a
	// legal hold; a plain completion has none.
	denied, withheld := create("d@example.com"), create("w@example.com")
	if err := store.Transition(ctx, denied, dynamo.Transition{From: []string{privacy.RequestPending}, Status: privacy.RequestDenied,
		Reason: "manifestly unfounded"}, dynamo.Event{Name: "denied", At: after, Ref: denied}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetOutcome(ctx, withheld, dynamo.Outcome{Status: privacy.RequestCompleted, Withheld: true, Results: &zero},
		dynamo.Event{Name: "erased", At: after, Ref: withheld}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		denied:    `{"opendsr.example.com":{"outcome":"denied","reason":"manifestly unfounded"}}`,
		withheld:  `{"opendsr.example.com":{"outcome":"withheld","reason":"a legal hold keeps the data; nothing was erased"}}`,
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
