package recipients_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/dynamo/dynamotest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// A verified site erasure tells each registered processor once, with its
// credentials and the person's sha256; one that is down is retried with
// backoff and told later; a forged answer is never taken for the
// processor's; one down for good is given up for the team; the email is
// held until each has been tried, and the request shows where each stands.
func TestErasureReachesEveryProcessor(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"],
		Suppression: n["SuppressionTable"], Requests: n["RequestsTable"], Ops: n["OpsTable"]})
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	key := make([]byte, 32)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	now := t0

	a, b, c := opendsrtest.New(t), opendsrtest.New(t), opendsrtest.New(t)
	b.Set(opendsrtest.Down, false)
	c.Set(opendsrtest.Down, false)
	for i, p := range []struct {
		fp   *opendsrtest.Processor
		name string
	}{{a, "Alpha Analytics"}, {b, "Beta Mail"}, {c, "Gamma Gone"}} {
		id := []string{"alpha", "beta", "gamma"}[i]
		sealed, err := recipients.Seal(key, id, "site:pw-"+id)
		if err != nil {
			t.Fatal(err)
		}
		if err := dynamotest.PutProcessor(ctx, store, privacy.Processor{ID: id, Name: p.name, URL: p.fp.URL, Credentials: sealed,
			Certificate: string(p.fp.Certificate), IdentityFormat: "sha256", Types: []string{"erasure"}}, privacy.Event{At: t0}); err != nil {
			t.Fatal(err)
		}
	}

	// The site's erasure of ann, fulfilled as at verification.
	const email = "Ann@Example.com"
	req := privacy.RightsRequest{ID: "req-erase", Subject: "ann-subject", Email: email, Type: privacy.RightErasure,
		Regulation: "gdpr", Status: privacy.RequestPending, ReceivedAt: t0, DueAt: t0.AddDate(0, 1, 0)}
	if err := store.CreateRequest(ctx, req, privacy.Event{Subject: "ann-subject", Name: "request_received", At: t0, Ref: req.ID}); err != nil {
		t.Fatal(err)
	}
	f := &rights.Fulfiller{Store: store, Policy: privacy.FixedPolicy("v"), Log: log}
	if _, err := f.Fulfil(ctx, req, "n1", t0); err != nil {
		t.Fatal(err)
	}
	got := func() privacy.RightsRequest {
		t.Helper()
		r, err := store.Request(ctx, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := got(); !r.MailDue.IsZero() || r.MailPending != privacy.Due(privacy.MailErased, "n1") || len(r.Recipients) != 3 {
		t.Fatalf("after fulfilment: mail_due %q, pending %q, recipients %v", r.MailDue, r.MailPending, r.Recipients)
	}

	d := &recipients.Deliverer{Store: store, Client: opendsr.NewClient(true), Key: key, Backoff: time.Minute, MaxBackoff: time.Hour,
		GiveUp: 7 * 24 * time.Hour, PollEvery: time.Hour, Lease: 2 * time.Minute, Now: func() time.Time { return now }, Log: log}
	run := func(at time.Duration, want recipients.Report) {
		t.Helper()
		now = t0.Add(at)
		rep, err := d.Run(ctx)
		if err != nil || rep != want {
			t.Fatalf("at %s: %+v, %v; want %+v", at, rep, err, want)
		}
	}
	states := func(want map[string]string) {
		t.Helper()
		r := got()
		for id, st := range want {
			if r.Recipients[id].State != st {
				t.Errorf("%s: %q, want %q (all: %v)", id, r.Recipients[id].State, st, r.Recipients)
			}
		}
	}

	// First run: alpha accepts, beta and gamma are down; each has been
	// tried, so the completion email is released.
	run(0, recipients.Report{Tried: 3, Sent: 1, Retrying: 2, Released: 1})
	states(map[string]string{"alpha": privacy.RecipientSent, "beta": privacy.RecipientRetrying, "gamma": privacy.RecipientRetrying})
	if r := got(); r.MailDue != privacy.Due(privacy.MailErased, "n1") || !r.MailPending.IsZero() {
		t.Fatalf("the email is not released: due %q, pending %q", r.MailDue, r.MailPending)
	}
	sentA := a.Accepted()
	if len(sentA) != 1 || a.Auth() != "site:pw-alpha" || sentA[0].Identities[0].Value != privacy.EmailDigest("sha256", "ann@example.com") ||
		sentA[0].Identities[0].Format != "sha256" || sentA[0].Type != "erasure" || sentA[0].Regulation != "gdpr" ||
		!opendsr.ValidID(sentA[0].SubjectRequestID) {
		t.Fatalf("alpha was sent %+v with %q", sentA, a.Auth())
	}

	// Within the backoff nothing is due.
	run(30*time.Second, recipients.Report{})
	// Beta is up but its answer is forged: not taken, retried.
	b.Set(opendsrtest.Forged, false)
	run(61*time.Second, recipients.Report{Tried: 2, Retrying: 2})
	states(map[string]string{"beta": privacy.RecipientRetrying})
	// Beta answers truly: told, once.
	b.Set(opendsrtest.Up, false)
	run(4*time.Minute, recipients.Report{Tried: 2, Sent: 1, Retrying: 1})
	states(map[string]string{"alpha": privacy.RecipientSent, "beta": privacy.RecipientSent})
	if sentB := b.Accepted(); len(sentB) != 1 || sentB[0].SubjectRequestID == sentA[0].SubjectRequestID {
		t.Fatalf("beta accepted %+v", sentB)
	}
	// Both finish; polled, they are completed and keep no identity.
	a.Set(opendsrtest.Up, true)
	b.Set(opendsrtest.Up, true)
	run(2*time.Hour, recipients.Report{Tried: 3, Completed: 2, Retrying: 1})
	states(map[string]string{"alpha": privacy.RecipientCompleted, "beta": privacy.RecipientCompleted, "gamma": privacy.RecipientRetrying})
	// Gamma, down for a week, is given up: the team's.
	run(8*24*time.Hour, recipients.Report{Tried: 1, Failed: 1})
	states(map[string]string{"gamma": privacy.RecipientFailed})
	failed, err := store.Deliveries(ctx, privacy.DeliveryFailed, t0.AddDate(1, 0, 0))
	if err != nil || len(failed) != 1 || failed[0].ProcessorID != "gamma" || failed[0].Identity != "" || !strings.Contains(failed[0].LastError, "HTTP 503") {
		t.Fatalf("failed deliveries: %+v %v", failed, err)
	}
	closed, _ := store.Deliveries(ctx, privacy.DeliveryClosed, t0.AddDate(1, 0, 0))
	for _, dl := range closed {
		if dl.Identity != "" {
			t.Errorf("%s keeps the identity after completion", dl.ProcessorID)
		}
	}
	if len(closed) != 2 {
		t.Fatalf("%d closed deliveries", len(closed))
	}
	// What the requester reads.
	told := got().RecipientsTold()
	if len(told) != 3 || told[0].Name != "Alpha Analytics" || !strings.Contains(told[0].Status, "confirmed") ||
		!strings.Contains(told[2].Status, "privacy team") {
		t.Fatalf("told: %+v", told)
	}
}

// Only erasures are queued; the same request and processor always give
// the same subject_request_id; a raw-only processor gets the address.
func TestForQueuesErasures(t *testing.T) {
	t.Parallel()
	req := privacy.RightsRequest{ID: "r", Email: "a@example.com", Type: privacy.RightAccess}
	ds, err := recipients.For(req, []privacy.Processor{{ID: "p", Types: []string{"erasure"}}}, time.Now())
	if err != nil || len(ds) != 0 {
		t.Fatalf("an access request queued %v, %v", ds, err)
	}
	req.Type = privacy.RightErasure
	ds, _ = recipients.For(req, []privacy.Processor{{ID: "p", Types: []string{"erasure"}, IdentityFormat: "raw"}}, time.Now())
	again, _ := recipients.For(req, []privacy.Processor{{ID: "p", Types: []string{"erasure"}, IdentityFormat: "raw"}}, time.Now())
	if len(ds) != 1 || ds[0].Identity != "a@example.com" || ds[0].SubjectRequestID != again[0].SubjectRequestID || !opendsr.ValidID(ds[0].SubjectRequestID) {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestSealOpens(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	s, err := recipients.Seal(key, "p1", "user:secret")
	if err != nil || strings.Contains(s, "secret") {
		t.Fatalf("%q %v", s, err)
	}
	if got, err := recipients.Open(key, "p1", s); err != nil || got != "user:secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := recipients.Open(key, "p2", s); err == nil {
		t.Fatal("a sealed credential opened for another processor")
	}
}
