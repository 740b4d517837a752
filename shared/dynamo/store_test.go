package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
		Requests: n["RequestsTable"], Ops: n["OpsTable"], Records: n["RecordsTable"],
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
	step := func(name string, at time.Time, want privacy.Claim) {
		t.Helper()
		got, err := s.ClaimMail(ctx, "k1", at, lease)
		if err != nil || got != want {
			t.Fatalf("%s: claim = %v, %v; want %v", name, got, err, want)
		}
	}
	step("first claim", now, privacy.Claimed)
	step("second claim within the lease", now.Add(time.Second), privacy.Busy)
	step("claim after the lease ran out", now.Add(2*lease), privacy.Claimed)
	if err := s.ReleaseMail(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	step("claim after release", now.Add(2*lease), privacy.Claimed)
	if err := s.MailSent(ctx, "k1", "msg-1"); err != nil {
		t.Fatal(err)
	}
	step("claim after sent", now.Add(time.Hour), privacy.AlreadySent)
	if err := s.ReleaseMail(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	step("release does not undo a sent marker", now.Add(time.Hour), privacy.AlreadySent)
}

// A contact form's opt-in is written with its inquiry, both or neither;
// when only the signup's condition refuses (a confirmation went out within
// the cooldown), the inquiry is stored alone.
func TestSaveInquiryWithSignup(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	form := privacy.ContactForm{Name: "Ann", Email: "ann@example.com", Topic: "question", Message: "Hi", MarketingOptIn: true}
	inquiry := func(id string, at time.Time) privacy.Inquiry {
		return privacy.NewInquiry(id, "subj-o", form, "v1", privacy.RequestMeta{ReceivedAt: at})
	}
	optIn := func(id string, at time.Time) *privacy.PendingSignup {
		return &privacy.PendingSignup{Sub: privacy.Signup{Email: form.Email, Topics: []string{"newsletter"}}, Subject: "subj-o", ID: id,
			Cooldown: 10 * time.Minute, Event: ev("subj-o", "subscribe_requested", at)}
	}
	count := func() (inquiries, subs, ledger int) {
		items, _ := s.SubjectItems(ctx, "subj-o")
		for _, it := range items {
			if k, _ := it["kind"].(*types.AttributeValueMemberS); k != nil && k.Value == dynamo.KindInquiry {
				inquiries++
			} else if k != nil && k.Value == dynamo.KindSubscription {
				subs++
			}
		}
		l, _ := s.LedgerEntries(ctx, "subj-o")
		return inquiries, subs, len(l)
	}
	steps := []struct {
		name                    string
		inq                     privacy.Inquiry
		signup                  *privacy.PendingSignup
		wantErr, wantDue        bool
		inquiries, subs, ledger int
	}{
		{"inquiry and opt-in together", inquiry("i1", at), optIn("s1", at), false, true, 1, 1, 2},
		{"opt-in within the cooldown: the inquiry alone", inquiry("i2", at.Add(time.Minute)), optIn("s2", at.Add(time.Minute)), false, false, 2, 1, 3},
		{"the same inquiry again: neither", inquiry("i2", at.Add(time.Minute)), optIn("s3", at.Add(time.Hour)), true, false, 2, 1, 3},
		{"no opt-in", inquiry("i3", at.Add(2*time.Hour)), nil, false, false, 3, 1, 4},
	}
	for _, st := range steps {
		due, err := s.SaveInquiryWithSignup(ctx, st.inq, st.signup)
		if (err != nil) != st.wantErr || due != st.wantDue {
			t.Fatalf("%s: due %v, err %v", st.name, due, err)
		}
		if i, sub, l := count(); i != st.inquiries || sub != st.subs || l != st.ledger {
			t.Fatalf("%s: %d inquiries, %d subscriptions, %d ledger entries; want %d, %d, %d", st.name, i, sub, l,
				st.inquiries, st.subs, st.ledger)
		}
	}
	if sub, err := s.Subscription(ctx, "subj-o"); err != nil || sub.SignupID != "s1" {
		t.Fatalf("the refused opt-ins changed the subscription: %+v %v", sub, err)
	}
}

// An address's digest keys find its subject through the sparse indexes,
// from an inquiry or a subscription, and stop finding it once its items
// are erased; a similar address finds nothing.
func TestSubjectsByEmailKey(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	h, err := privacy.NewHasher([]byte("test-pepper-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second) // the signup's TTL counts from it
	inquirer, subscriber := "Inq@Example.com", "sub@example.com"
	inq := privacy.NewInquiry("id-k", h.Subject(inquirer), privacy.ContactForm{Name: "I", Email: "inq@example.com",
		Topic: "demo", Message: "m"}, "v", privacy.RequestMeta{ReceivedAt: at})
	inq.Lookup = h.EmailKeys(inquirer)
	if err := s.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	sub := h.Subject(subscriber)
	if _, err := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: subscriber, Topics: []string{"newsletter"}},
		Subject: sub, Lookup: h.EmailKeys(subscriber), ID: "s1", Event: ev(sub, "subscribe_requested", at)}); err != nil {
		t.Fatal(err)
	}
	find := func(format, addr string) []privacy.SubjectID {
		t.Helper()
		got, err := s.SubjectsByEmailKey(ctx, format, h.DigestKey(format, privacy.EmailDigest(format, addr)))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, format := range privacy.DigestFormats() {
		for addr, want := range map[string]privacy.SubjectID{" INQ@example.com": inq.Subject, "sub@example.com": sub} {
			if got := find(format, addr); len(got) != 1 || got[0] != want {
				t.Errorf("%s of %s: %v, want [%s]", format, addr, got, want)
			}
		}
		if got := find(format, "sub@example.co"); len(got) != 0 {
			t.Errorf("%s of a similar address found %v", format, got)
		}
	}
	if _, err := s.SubjectsByEmailKey(ctx, "sha512", "x"); err == nil {
		t.Error("an unknown format was queried")
	}
	if _, _, err := s.Erase(ctx, sub, "r1", ev(sub, "erased", at)); err != nil {
		t.Fatal(err)
	}
	if got := find("sha256", subscriber); len(got) != 0 {
		t.Errorf("an erased address is still found: %v", got)
	}
}

// Items written before the digest indexes gain their keys once, and are
// then found by digest; items that have them are left alone.
func TestBackfillEmailKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	h, _ := privacy.NewHasher([]byte("test-pepper-0123456789"))
	at := time.Now().UTC().Truncate(time.Second)
	old := privacy.NewInquiry("id-old", h.Subject("old@example.com"), privacy.ContactForm{Name: "O", Email: "old@example.com",
		Topic: "demo", Message: "m"}, "v", privacy.RequestMeta{ReceivedAt: at})
	if err := s.SaveInquiry(ctx, old); err != nil { // no Lookup: as written before the indexes
		t.Fatal(err)
	}
	sub := h.Subject("sub-old@example.com")
	if _, err := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: "sub-old@example.com", Topics: []string{"newsletter"}},
		Subject: sub, ID: "s1", Event: ev(sub, "subscribe_requested", at)}); err != nil {
		t.Fatal(err)
	}
	current := privacy.NewInquiry("id-new", h.Subject("new@example.com"), privacy.ContactForm{Name: "N", Email: "new@example.com",
		Topic: "demo", Message: "m"}, "v", privacy.RequestMeta{ReceivedAt: at})
	current.Lookup = h.EmailKeys("new@example.com")
	if err := s.SaveInquiry(ctx, current); err != nil {
		t.Fatal(err)
	}
	for run, want := range []int{2, 0} {
		if n, err := s.BackfillEmailKeys(ctx, h.EmailKeys); err != nil || n != want {
			t.Fatalf("run %d: %d updated, %v; want %d", run, n, err, want)
		}
	}
	for addr, want := range map[string]privacy.SubjectID{"old@example.com": old.Subject, "sub-old@example.com": sub} {
		got, err := s.SubjectsByEmailKey(ctx, "md5", h.DigestKey("md5", privacy.EmailDigest("md5", addr)))
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("%s after the backfill: %v %v", addr, got, err)
		}
	}
}
