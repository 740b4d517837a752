package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func newStore(t *testing.T) *dynamo.Store {
	t.Helper()
	s, _, _ := newStoreDB(t)
	return s
}

// newStoreDB is newStore with the client and the tables, for tests that
// read or write items as stored.
func newStoreDB(t *testing.T) (*dynamo.Store, *dynamodb.Client, dynamo.Tables) {
	t.Helper()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	tables := dynamo.Tables{
		Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"], Suppression: n["SuppressionTable"],
		Requests: n["RequestsTable"], Ops: n["OpsTable"], Records: n["RecordsTable"], PlatformRequests: n["PlatformRequestsTable"],
	}
	return dynamo.New(db, tables), db, tables
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
	// The inquiry is written alone: its entry is the mailer's, from the
	// inquiry's record (RecordInquiry), written once however often.
	if ledger, err := s.LedgerEntries(ctx, "subj-1"); err != nil || len(ledger) != 0 {
		t.Fatalf("ledger entries before the mailer's %d, %v", len(ledger), err)
	}
	for range 2 {
		if err := s.RecordInquiry(ctx, got, at); err != nil {
			t.Fatal(err)
		}
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
	// The same inquiry again is refused.
	if err := s.SaveInquiry(ctx, inq); err == nil {
		t.Fatal("saving the same inquiry twice succeeded")
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
		// The ledger entries are the signup's: an inquiry's is the
		// mailer's, from its record (RecordInquiry).
		{"inquiry and opt-in together", inquiry("i1", at), optIn("s1", at), false, true, 1, 1, 1},
		{"opt-in within the cooldown: the inquiry alone", inquiry("i2", at.Add(time.Minute)), optIn("s2", at.Add(time.Minute)), false, false, 2, 1, 1},
		{"the same inquiry again: neither", inquiry("i2", at.Add(time.Minute)), optIn("s3", at.Add(time.Hour)), true, false, 2, 1, 1},
		{"no opt-in", inquiry("i3", at.Add(2*time.Hour)), nil, false, false, 3, 1, 1},
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

// Site items carry no digest keys: OpenDSR acts on the controllers'
// records only, so nothing of the site is looked up by a digest, and an
// item writes no by-email-* index entry. A subscription written before
// gives its keys up when it is written again.
func TestSiteItemsCarryNoDigestKeys(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	s := dynamo.New(db, dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"]})
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	inq := privacy.NewInquiry("inq-k", "subj-k", privacy.ContactForm{Email: "k@example.com", Message: "m"}, "v",
		privacy.RequestMeta{ReceivedAt: at})
	if err := s.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	// A subscription as written before: with its digest keys.
	old := privacy.PendingSignup{Sub: privacy.Signup{Email: "k@example.com", Topics: []string{"newsletter"}}, Subject: "subj-k",
		ID: "s-0", Cooldown: time.Minute, Event: privacy.Event{Subject: "subj-k", Name: "subscribe_requested", At: at.Add(-time.Hour)}}
	if _, err := s.RequestSubscription(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(n["SubjectsTable"]),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "S#subj-k"}, "sk": &types.AttributeValueMemberS{Value: "SUB"}},
		UpdateExpression:          aws.String("SET email_md5 = :k, email_sha1 = :k, email_sha256 = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": &types.AttributeValueMemberS{Value: "old-key"}}}); err != nil {
		t.Fatal(err)
	}
	e := privacy.Event{Subject: "subj-k", Name: "subscribe_requested", At: at}
	if _, err := s.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: "k@example.com", Topics: []string{"newsletter"}},
		Subject: "subj-k", ID: "s-1", Cooldown: time.Minute, Event: e}); err != nil {
		t.Fatal(err)
	}
	items, _ := s.SubjectItems(ctx, "subj-k")
	if len(items) != 2 {
		t.Fatalf("%d items", len(items))
	}
	for _, it := range items {
		for _, attr := range []string{"email_md5", "email_sha1", "email_sha256"} {
			if _, ok := it[attr]; ok {
				t.Errorf("a site item carries %s", attr)
			}
		}
	}
}

// An update of notice progress on a version that was never published
// makes an item of those attributes alone (an UpdateItem creates what is
// not there, and the notices function's role may only update them): it is
// not a version, and cannot become the one in force.
func TestNoticeProgressAloneIsNoVersion(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	ops := localtest.Tables(t, svc)["OpsTable"]
	db := localtest.DynamoDB(svc)
	s := dynamo.New(db, dynamo.Tables{Ops: ops})
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	v := privacy.PolicyVersion{Version: "2026-03-01", Effective: at, Summary: "s", PublishedAt: at, PublishedBy: "arn:team"}
	if err := s.PublishPolicy(ctx, v); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"2026-03-01", "forged"} {
		if err := s.SaveNoticeProgress(ctx, version, privacy.NoticeProgress{State: "done", Updated: at}); err != nil && version != "forged" {
			t.Fatal(err)
		}
	}
	// As the notices role could: an update without the condition.
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(ops),
		Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "POLICY"}, "sk": &types.AttributeValueMemberS{Value: "forged"}},
		UpdateExpression: aws.String("SET notice_state = :s"), ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "done"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PolicyVersions(ctx)
	if err != nil || len(got) != 1 || got[0].Version != "2026-03-01" || got[0].Notices.State != "done" {
		t.Fatalf("versions %+v, %v", got, err)
	}
}
