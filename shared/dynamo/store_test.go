package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func newStore(t *testing.T) *dynamo.Store {
	t.Helper()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	return dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{
		Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"], Suppression: n["SuppressionTable"],
		Requests: n["RequestsTable"], Ops: n["OpsTable"],
	})
}

func TestSaveInquiry(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)
	form := privacy.ContactForm{Name: "Zoë", Email: "zoe@example.com", Topic: "demo", Message: "Hi\nthere",
		Company: "ACME", Phone: "+1 555", MarketingOptIn: true}
	meta := privacy.RequestMeta{SourceIP: "203.0.113.9", UserAgent: "UA/1", AcceptLanguage: "de", Referrer: "https://r.example/", ReceivedAt: at}
	inq := privacy.NewInquiry("id-1", "subj-1", form, "2018-07-10", meta)
	if err := s.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	items, err := s.SubjectItems(ctx, "subj-1")
	if err != nil || len(items) != 1 {
		t.Fatalf("subject items %d, %v", len(items), err)
	}
	got, err := dynamo.DecodeInquiry(items[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.Form != form || got.Meta != meta || got.PolicyVersion != "2018-07-10" ||
		got.LegalBasis != privacy.BasisLegitimateInterest || got.Purpose != privacy.PurposeRespondToInquiry ||
		!got.ExpiresAt.Equal(inq.ExpiresAt.Truncate(time.Second)) || !got.MetaExpiresAt.Equal(inq.MetaExpiresAt.Truncate(time.Second)) {
		t.Fatalf("stored inquiry differs:\n got %+v\nwant %+v", got, inq)
	}
	if _, ok := items[0][dynamo.AttrMailDue]; !ok {
		t.Error("a new inquiry must make its emails due")
	}
	ledger, err := s.LedgerEntries(ctx, "subj-1")
	if err != nil || len(ledger) != 1 {
		t.Fatalf("ledger entries %d, %v", len(ledger), err)
	}
	for _, attr := range []string{"event", "legal_basis", "policy_version", "purpose", "expires_at", "ref"} {
		if _, ok := ledger[0][attr]; !ok {
			t.Errorf("ledger entry lacks %s", attr)
		}
	}
	if _, ok := ledger[0]["email"]; ok {
		t.Error("the ledger must hold no address")
	}
	// The same inquiry again is refused as a whole: no second ledger entry.
	if err := s.SaveInquiry(ctx, inq); err == nil {
		t.Fatal("saving the same inquiry twice succeeded")
	}
	if ledger, _ := s.LedgerEntries(ctx, "subj-1"); len(ledger) != 1 {
		t.Fatalf("a failed transaction left %d ledger entries", len(ledger))
	}
	if items, _ := s.SubjectItems(ctx, "other"); len(items) != 0 {
		t.Fatal("another subject's partition is not empty")
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMailMarkers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	now := time.Now()
	lease := time.Minute
	step := func(name string, at time.Time, want dynamo.Claim) {
		t.Helper()
		got, err := s.ClaimMail(ctx, "k1", at, lease)
		if err != nil || got != want {
			t.Fatalf("%s: claim = %v, %v; want %v", name, got, err, want)
		}
	}
	step("first claim", now, dynamo.Claimed)
	step("second claim within the lease", now.Add(time.Second), dynamo.Busy)
	step("claim after the lease ran out", now.Add(2*lease), dynamo.Claimed)
	if err := s.ReleaseMail(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	step("claim after release", now.Add(2*lease), dynamo.Claimed)
	if err := s.MailSent(ctx, "k1", "msg-1"); err != nil {
		t.Fatal(err)
	}
	step("claim after sent", now.Add(time.Hour), dynamo.AlreadySent)
	if err := s.ReleaseMail(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	step("release does not undo a sent marker", now.Add(time.Hour), dynamo.AlreadySent)
}
