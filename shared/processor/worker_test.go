package processor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

// newStore is a store on tables of the test's own in DynamoDB Local.
func newStore(t *testing.T) *dynamo.Store {
	t.Helper()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	return dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"],
		Suppression: n["SuppressionTable"], Requests: n["RequestsTable"], Ops: n["OpsTable"], Records: n["RecordsTable"]})
}

// failingErase is the real store with its first n erasures failing, as
// they would when DynamoDB refuses a write mid-way.
type failingErase struct {
	*dynamo.Store
	n int
}

func (f *failingErase) EraseKeyedRecords(ctx context.Context, controller string, keys []string) (int, error) {
	if f.n > 0 {
		f.n--
		return 0, errors.New("injected: throughput exceeded")
	}
	return f.Store.EraseKeyedRecords(ctx, controller, keys)
}

func TestWorker(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, _ := privacy.NewHasher([]byte("worker-test-pepper-0123"))
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	w := &processor.Worker{Store: &failingErase{Store: store, n: 1}, Lease: 10 * time.Minute, Now: func() time.Time { return now }, Log: log}

	// Two records acme handed over about the subject of the erasure, and
	// the site's own inquiry from the same person.
	const email = "w@example.com"
	keys := h.IdentityKeys("acme", "email", email)
	for _, id := range []string{"r1", "r2"} {
		if _, _, err := store.PutRecord(ctx, privacy.Record{Controller: "acme", ID: id, Keys: keys,
			Attributes: []byte(`{}`), UpdatedAt: t0.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	site := h.Subject(email)
	inq := privacy.NewInquiry("inq-1", site, privacy.ContactForm{Name: "W", Email: email, Topic: "demo",
		Message: "m"}, "v", privacy.RequestMeta{ReceivedAt: t0.Add(-time.Hour)})
	if err := store.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	request := func(id string, subject privacy.SubjectID, typ privacy.Right, source string, window time.Duration) {
		t.Helper()
		var ik []string
		if subject != "" && source == privacy.SourceOpenDSR {
			ik = keys[2:] // named by the sha256 of the address
		}
		r := privacy.RightsRequest{ID: id, Subject: subject, Type: typ, Regulation: "gdpr", IdentityKeys: ik,
			Status: privacy.RequestPending, ReceivedAt: t0, DueAt: t0.AddDate(0, 1, 0),
			Source: source, Controller: "acme", FulfilAfter: t0.Add(window)}
		if err := store.CreateRequest(ctx, r, privacy.Event{At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	request("erase", "erase-set", privacy.RightErasure, privacy.SourceOpenDSR, 15*time.Minute)
	request("nobody", "", privacy.RightAccess, privacy.SourceOpenDSR, 15*time.Minute)
	request("site", site, privacy.RightAccess, "", 0) // a site request held for approval: not the worker's
	check := func(id string, status privacy.Status, results int) {
		t.Helper()
		r, err := store.Request(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != status || (results >= 0 && (r.ResultsCount == nil || *r.ResultsCount != results)) {
			t.Fatalf("%s: status %s, results %v; want %s, %d", id, r.Status, r.ResultsCount, status, results)
		}
	}
	run := func(want processor.WorkReport, wantErr bool) {
		t.Helper()
		got, err := w.Run(ctx)
		if got != want || (err != nil) != wantErr {
			t.Fatalf("at %s: %+v, %v; want %+v (error %v)", now.Sub(t0), got, err, want, wantErr)
		}
	}

	now = t0.Add(14 * time.Minute) // inside the cancel window
	run(processor.WorkReport{}, false)
	check("erase", privacy.RequestPending, -1)

	now = t0.Add(15 * time.Minute) // the erasure fails once; the other is done
	run(processor.WorkReport{Fulfilled: 1, Failed: 1}, true)
	check("erase", privacy.RequestInProgress, -1)
	check("nobody", privacy.RequestCompleted, 0)
	check("site", privacy.RequestPending, -1)

	now = t0.Add(20 * time.Minute) // within the failed attempt's lease
	run(processor.WorkReport{}, false)
	check("erase", privacy.RequestInProgress, -1)

	now = t0.Add(26 * time.Minute) // the lease is over: finished, acme's two records gone
	run(processor.WorkReport{Retried: 1}, false)
	check("erase", privacy.RequestCompleted, 2)
	if recs, _ := store.KeyedRecords(ctx, "acme", keys); len(recs) != 0 {
		t.Fatalf("%d records left after the erasure", len(recs))
	}
	// The site's data, ledger and suppression list are not the erasure's.
	if items, _ := store.SubjectItems(ctx, site); len(items) != 1 {
		t.Fatalf("the site's inquiry: %d items, want 1", len(items))
	}
	for _, sub := range []privacy.SubjectID{site, privacy.SubjectID(keys[2])} {
		if sup, _ := store.Suppressions(ctx, sub); len(sup) != 0 {
			t.Fatalf("suppression written by a controller's erasure: %v", sup)
		}
	}
	if entries, _ := store.LedgerEntries(ctx, privacy.SubjectID(keys[2])); len(entries) != 0 {
		t.Fatalf("%d ledger entries for a controller's request", len(entries))
	}

	now = t0.Add(time.Hour) // nothing left to do
	run(processor.WorkReport{}, false)
}

// A cancelled request is never claimed, and a claim is won once.
func TestClaimFulfilment(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b"} {
		r := privacy.RightsRequest{ID: id, Subject: "s", Type: privacy.RightAccess, Regulation: "gdpr",
			Status: privacy.RequestPending, ReceivedAt: t0, DueAt: t0.AddDate(0, 1, 0), Source: privacy.SourceOpenDSR,
			FulfilAfter: t0}
		if err := store.CreateRequest(ctx, r, privacy.Event{Subject: "s", Name: "request_received", At: t0, Ref: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Transition(ctx, "b", privacy.Transition{Step: privacy.StepCancel, Status: privacy.RequestCancelled},
		privacy.Event{Subject: "s", Name: "request_cancelled", At: t0, Ref: "b"}); err != nil {
		t.Fatal(err)
	}
	later, stale := t0.Add(time.Minute), t0.Add(-time.Minute)
	for _, tc := range []struct {
		id   string
		want error
	}{{"a", nil}, {"a", privacy.ErrStale}, {"b", privacy.ErrStale}} {
		if err := store.ClaimFulfilment(ctx, tc.id, later, stale); !errors.Is(err, tc.want) {
			t.Errorf("claim %s: %v, want %v", tc.id, err, tc.want)
		}
	}
}
