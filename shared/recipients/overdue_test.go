package recipients_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/dynamo/dynamotest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/recipients"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// A processor told by email is not the deliverer's until its
// confirmation is overdue (privacy.ConfirmWithin): then it is the team's
// (the digest's and the deadline board's failed bucket), still waiting
// for its confirmation, which still closes it.
func TestEmailConfirmationOverdue(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"],
		Suppression: n["SuppressionTable"], Requests: n["RequestsTable"], Ops: n["OpsTable"]})
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := dynamotest.PutProcessor(ctx, store, privacy.Processor{ID: "drift", Name: "Drift", Contact: "privacy@drift.example",
		IdentityFormat: "raw", Types: recipients.EmailTypes()}, privacy.Event{At: t0}); err != nil {
		t.Fatal(err)
	}
	req := privacy.RightsRequest{ID: "req-overdue", Subject: "ann-subject", Email: "ann@example.com", Type: privacy.RightErasure,
		Regulation: "gdpr", Status: privacy.RequestPending, ReceivedAt: t0, DueAt: t0.AddDate(0, 1, 0)}
	if err := store.CreateRequest(ctx, req, privacy.Event{Subject: "ann-subject", Name: "request_received", At: t0, Ref: req.ID}); err != nil {
		t.Fatal(err)
	}
	f := &rights.Fulfiller{Store: store, Policy: privacy.FixedPolicy("v"), Log: log}
	if _, err := f.Fulfil(ctx, req, "n1", t0); err != nil {
		t.Fatal(err)
	}
	// Nothing held back: the processor is emailed (the delivery's
	// mail_due), and the completion email is due at once.
	if r, err := store.Request(ctx, req.ID); err != nil || r.MailDue != privacy.Due(privacy.MailErased, "n1") ||
		r.Recipients["drift"].State != privacy.RecipientEmailed {
		t.Fatalf("after fulfilment: %+v %v", r, err)
	}
	now := t0
	d := &recipients.Deliverer{Store: store, Client: opendsr.NewClient(true), Key: make([]byte, 32), Backoff: time.Minute,
		MaxBackoff: time.Hour, GiveUp: 7 * 24 * time.Hour, PollEvery: time.Hour, Lease: 2 * time.Minute,
		Now: func() time.Time { return now }, Log: log}
	failed := func() []privacy.Delivery {
		t.Helper()
		ds, err := store.DeliverySummaries(ctx, privacy.DeliveryFailed)
		if err != nil {
			t.Fatal(err)
		}
		var out []privacy.Delivery
		for _, x := range ds {
			if x.RequestID == req.ID {
				out = append(out, x)
			}
		}
		return out
	}
	for _, tc := range []struct {
		at         time.Duration
		want       recipients.Report
		failedWant int
	}{
		{0, recipients.Report{}, 0},
		{privacy.ConfirmWithin - time.Minute, recipients.Report{}, 0},
		{privacy.ConfirmWithin + time.Minute, recipients.Report{Tried: 1, Overdue: 1}, 1},
		{privacy.ConfirmWithin + time.Hour, recipients.Report{}, 1}, // listed once, not worked again
	} {
		now = t0.Add(tc.at)
		rep, err := d.Run(ctx)
		if err != nil || rep != tc.want {
			t.Fatalf("at %s: %+v %v, want %+v", tc.at, rep, err, tc.want)
		}
		if got := failed(); len(got) != tc.failedWant {
			t.Fatalf("at %s: %d overdue, want %d", tc.at, len(got), tc.failedWant)
		}
	}
	if got := failed()[0]; got.State != privacy.RecipientEmailed || got.LastError != "not confirmed within 30 days" {
		t.Fatalf("overdue delivery %+v", got)
	}
	// A late confirmation still closes it.
	if err := store.ConfirmDelivery(ctx, req.ID, "drift", privacy.Event{Subject: "ann-subject", Name: "processor_confirmed",
		At: now, Ref: req.ID}); err != nil {
		t.Fatal(err)
	}
	if len(failed()) != 0 {
		t.Fatal("a confirmed delivery is still overdue")
	}
	if r, _ := store.Request(ctx, req.ID); r.Recipients["drift"].State != privacy.RecipientCompleted {
		t.Fatalf("after confirmation: %v", r.Recipients)
	}
}
