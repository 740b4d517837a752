package operator_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

func newOperator(t *testing.T) (*operator.Operator, *dynamo.Store) {
	t.Helper()
	svc := localtest.Need(t)
	names := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Requests: names["RequestsTable"], Subjects: names["SubjectsTable"],
		Ledger: names["LedgerTable"], Ops: names["OpsTable"], Records: names["RecordsTable"], Suppression: names["SuppressionTable"]})
	h, err := privacy.NewHasher([]byte(strings.Repeat("p", 32)))
	if err != nil {
		t.Fatal(err)
	}
	inForce := func(context.Context) privacy.PolicyVersion { return privacy.PolicyVersion{Version: "2018-07-10"} }
	n := 0
	return &operator.Operator{Store: store, Hasher: h, Policy: inForce, Fulfiller: &rights.Fulfiller{Store: store, Policy: inForce},
		Now: time.Now, NewID: func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }, PlatformRegion: privacy.RegionUS}, store
}

// Who may do what: a viewer reads and decides nothing, a caller without an
// identity does nothing at all, and a refused action changes nothing.
func TestCallers(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	team := operator.Caller{By: "arn:aws:iam::000000000000:user/dpo", MayDecide: true}
	viewer := operator.Caller{By: "viewer@example.com"}
	hold := func(c operator.Caller, email, reason string) func() error {
		return func() error { return op.PlaceHold(ctx, c, email, reason, time.Time{}) }
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want error
	}{
		{"a viewer lists", func() error { _, err := op.List(ctx, viewer, operator.Filter{}); return err }, nil},
		{"a viewer may not place a hold", hold(viewer, "Ann@Example.com", "litigation LIT-7"), operator.ErrForbidden},
		{"a viewer may not deny", func() error { return op.Deny(ctx, viewer, "r-1", "no") }, operator.ErrForbidden},
		{"a viewer may not lift a suppression", func() error {
			_, err := op.LiftSuppression(ctx, viewer, "ann@example.com", "asked", nil)
			return err
		}, operator.ErrForbidden},
		{"nobody may list", func() error { _, err := op.List(ctx, operator.Caller{MayDecide: true}, operator.Filter{}); return err }, operator.ErrForbidden},
		{"show needs an id", func() error { _, err := op.Show(ctx, team, " "); return err }, operator.ErrBadRequest},
		{"a hold needs a reason", hold(team, "ann@example.com", ""), operator.ErrBadRequest},
		{"a hold needs an address", hold(team, "ann", "x"), operator.ErrBadRequest},
		{"an unknown request", func() error { _, err := op.Show(ctx, team, "00000000-0000-4000-8000-999999999999"); return err }, privacy.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	subject := op.Hasher.Subject("ann@example.com")
	if _, ok, err := store.SubjectHold(ctx, subject); err != nil || ok {
		t.Fatalf("a refused hold was placed (%v)", err)
	}
	if err := hold(team, "Ann@Example.com", "litigation LIT-7")(); err != nil {
		t.Fatal(err)
	}
	h, ok, err := store.SubjectHold(ctx, subject)
	if err != nil || !ok || h.PlacedBy != team.By {
		t.Fatalf("hold %+v %v %v, want placed by %s", h, ok, err, team.By)
	}
	ledger, err := store.SubjectLedger(ctx, subject)
	if err != nil || len(ledger) != 1 || ledger[0].Name != "legal_hold_placed" ||
		ledger[0].Detail["by"] != team.By {
		t.Fatalf("ledger %v %v", ledger, err)
	}
	// The ledger never holds the address itself.
	if s := fmt.Sprint(ledger); strings.Contains(strings.ToLower(s), "ann@example.com") {
		t.Fatalf("the ledger holds the address: %s", s)
	}
}

// Every view of a person's data is recorded with who saw it; a search
// that finds nothing records nothing (there is no one to record it for).
func TestViewsAreRecorded(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	viewer := operator.Caller{By: "viewer@example.com"}
	subject := op.Hasher.Subject("bob@example.com")
	if _, err := op.Suppressions(ctx, viewer, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if l, _ := store.SubjectLedger(ctx, subject); len(l) != 0 {
		t.Fatalf("an empty search was recorded: %v", l)
	}
	if err := store.Suppress(ctx, subject, privacy.SuppressUnsubscribed, privacy.Event{Subject: subject, Name: "unsubscribed",
		At: time.Now(), LegalBasis: privacy.BasisConsent, PolicyVersion: "2018-07-10"}); err != nil {
		t.Fatal(err)
	}
	recs, err := op.Suppressions(ctx, viewer, "Bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Reason != privacy.SuppressUnsubscribed || !recs[0].InForce {
		t.Fatalf("suppressions %+v", recs)
	}
	var seen []string
	l, _ := store.SubjectLedger(ctx, subject)
	for _, e := range l {
		if e.Name == "suppressions_viewed" {
			seen = append(seen, e.Detail["by"])
		}
	}
	if len(seen) != 1 || seen[0] != viewer.By {
		t.Fatalf("suppressions_viewed by %v, want [%s]", seen, viewer.By)
	}
}

// The caller's mistakes are answered with their status; anything else is
// left to the router (503, logged).
func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("%w: x", operator.ErrBadRequest), http.StatusBadRequest},
		{rights.ErrReasonRequired, http.StatusBadRequest},
		{fmt.Errorf("limit: %w", rights.ErrOutOfRange), http.StatusBadRequest},
		{fmt.Errorf("%w: viewer", operator.ErrForbidden), http.StatusForbidden},
		{fmt.Errorf("request x: %w", privacy.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("request x is completed: %w", rights.ErrWrongStatus), http.StatusConflict},
		{privacy.ErrExists, http.StatusConflict},
		{errors.New("dynamodb: connection refused"), 0},
	} {
		var e *httpapi.Error
		got := 0
		if errors.As(operator.Problem(tc.err), &e) {
			got = e.Status
		}
		if got != tc.want {
			t.Errorf("%v: %d, want %d", tc.err, got, tc.want)
		}
	}
}

// Terminating a controller (the client left the Platform) revokes its
// credentials at once: an OpenDSR call with them is refused (401), while
// the records it handed over wait out their 12 months for the sweep.
func TestTerminatingAControllerRevokesItsCredentials(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	team := operator.Caller{By: "arn:aws:iam::000000000000:user/dpo", MayDecide: true}
	creds, err := op.IssueController(ctx, team, "Acme", "us", "a new client")
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := opendsr.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), "opendsr.example.com")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	rt := httpapi.NewRouter(log, httpapi.Site{}, nil)
	(&processor.Service{Store: store, Hasher: op.Hasher, Signer: signer, Region: privacy.RegionUS, Now: time.Now, Log: log}).Routes(rt)
	status := func() int {
		t.Helper()
		id := "4a7b9c1e-2f3d-4e5a-8b6c-7d8e9f0a1b2c"
		resp, err := apigw.Handler(rt.Serve)(ctx, events.APIGatewayV2HTTPRequest{RouteKey: "GET /opendsr/v2/requests/{id}",
			RawPath: "/opendsr/v2/requests/" + id, PathParameters: map[string]string{"id": id},
			Headers: map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(creds.ControllerID+":"+creds.Secret))}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if got := status(); got != http.StatusNotFound { // admitted: no such request of its own
		t.Fatalf("before termination: %d, want 404", got)
	}
	if _, err := op.TerminateClient(ctx, team, operator.Termination{Controller: creds.ControllerID}); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != http.StatusUnauthorized {
		t.Fatalf("after termination: %d, want 401", got)
	}
	cs, err := store.Controllers(ctx)
	if err != nil || len(cs) != 1 || cs[0].TerminatedAt.IsZero() {
		t.Fatalf("controllers %+v %v: the termination's clock is not kept", cs, err)
	}
	if _, err := op.TerminateClient(ctx, team, operator.Termination{Controller: "no-such-controller"}); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("terminating an unknown controller: %v", err)
	}
}
