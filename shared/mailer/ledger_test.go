package mailer_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// ledgerStore is a store of fresh tables against DynamoDB Local, and
// those tables' names.
func ledgerStore(t *testing.T) (*dynamo.Store, *dynamodb.Client, map[string]string) {
	t.Helper()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	return dynamo.New(db, dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"], Ops: n["OpsTable"],
		Requests: n["RequestsTable"], Suppression: n["SuppressionTable"]}), db, n
}

// stored saves inq as the contact form does and returns its item as
// written: the image its stream record carries.
func stored(t *testing.T, store *dynamo.Store, inq privacy.Inquiry) map[string]types.AttributeValue {
	t.Helper()
	ctx := context.Background()
	if err := store.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	items, err := store.SubjectItems(ctx, inq.Subject)
	if err != nil || len(items) != 1 {
		t.Fatalf("subject items: %d, %v", len(items), err)
	}
	return items[0]
}

func keysOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}
}

// countingSender sends nothing; it counts, and fails when told to.
type countingSender struct {
	sent atomic.Int32
	fail error
}

func (s *countingSender) Send(context.Context, notify.Message) (string, error) {
	if s.fail != nil {
		return "", s.fail
	}
	s.sent.Add(1)
	return "msg", nil
}

type restricted []string

func (r restricted) Restriction(context.Context, privacy.SubjectID) ([]string, error) { return r, nil }

type suppressed []string

func (s suppressed) Suppressions(context.Context, privacy.SubjectID) ([]string, error) { return s, nil }

// The contact form stores an inquiry alone; its ledger entry
// (inquiry_received) is the mailer's, from the inquiry's stream record:
// the record delivered again and the inquiry replayed (privacyctl
// replay's MODIFY with replayed_at) write it once, and it is the entry
// the form's transaction wrote before (the same key and attributes, the
// same hash), whose hash verifies. Written on a later day (a record
// retried past midnight), it is sealed with the day it is written.
func TestInquiryLedgerEntryFromItsRecord(t *testing.T) {
	t.Parallel()
	store, db, n := ledgerStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 8, 10, 0, 0, 123456789, time.UTC)
	now := at.Add(2 * time.Second)
	m := &mailer.Mailer{Ledger: store, Markers: store, Sender: &countingSender{},
		Config: notify.Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://example.com/p"},
		Log:    slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return now }, Lease: time.Minute}
	u := localtest.Unique()
	inq := privacy.NewInquiry("inq-"+u, privacy.SubjectID("subj-"+u), privacy.ContactForm{Name: "N", Email: "n-" + u + "@example.com",
		Topic: "demo", Message: "M"}, "v7", privacy.RequestMeta{SourceIP: "192.0.2.7", UserAgent: "UA", ReceivedAt: at})
	item := stored(t, store, inq)
	if es, _ := store.LedgerEntries(ctx, inq.Subject); len(es) != 0 {
		t.Fatalf("%d ledger entries before the mailer's", len(es))
	}
	// privacyctl replay marks the item replayed (a MODIFY): a record the
	// stream gave up on gets its entry from the replay.
	replayed := map[string]types.AttributeValue{}
	for k, v := range item {
		replayed[k] = v
	}
	replayed[dynamo.AttrReplayedAt] = &types.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)}
	if failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "2", Source: "arn:test"},
		keysOf(item), item, replayed)}); len(failed) != 0 {
		t.Fatalf("replay: %v failed", failed)
	}
	if es, err := store.LedgerEntries(ctx, inq.Subject); err != nil || len(es) != 1 {
		t.Fatalf("after the replay: %d ledger entries, %v; want 1", len(es), err)
	}
	// The INSERT record, and the stream's redelivery of it.
	insert := dynamo.DecodeChange(privacy.Change{Seq: "1", Source: "arn:test"}, keysOf(item), nil, item)
	for i := range 2 {
		if failed := m.Handle(ctx, []privacy.Change{insert}); len(failed) != 0 {
			t.Fatalf("delivery %d: %v failed", i, failed)
		}
	}
	got, err := store.LedgerEntries(ctx, inq.Subject)
	if err != nil || len(got) != 1 {
		t.Fatalf("%d ledger entries, %v; want 1", len(got), err)
	}

	// The entry the form's transaction wrote before this change: the
	// store's sealed put (ledgerPut, as RecordEvent writes it) of the
	// event the form named, in tables of its own.
	before, _, _ := ledgerStore(t)
	if err := before.RecordEvent(ctx, privacy.Event{Subject: inq.Subject, Name: "inquiry_received", At: inq.Meta.ReceivedAt,
		Ref: inq.ID, Purpose: inq.Purpose, LegalBasis: inq.LegalBasis, PolicyVersion: inq.PolicyVersion}); err != nil {
		t.Fatal(err)
	}
	want, err := before.LedgerEntries(ctx, inq.Subject)
	if err != nil || len(want) != 1 {
		t.Fatalf("%d entries written the old way, %v", len(want), err)
	}
	if !reflect.DeepEqual(got[0], want[0]) {
		t.Fatalf("the mailer's entry differs from the transaction's:\n got %v\nwant %v", got[0], want[0])
	}
	scan, err := store.ScanLedger(ctx)
	if err != nil || len(scan) != 1 {
		t.Fatalf("scan: %d, %v", len(scan), err)
	}
	if problem := ledger.Check(scan[0]); problem != "" || scan[0].Hash == "" || scan[0].Day != "2026-12-08" {
		t.Fatalf("entry %+v: %q", scan[0], problem)
	}

	// A record retried after its day: the entry is sealed with the day
	// it is written (no sealed day gains an entry), its time kept.
	now = at.Add(26 * time.Hour)
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(n["SubjectsTable"]), Key: keysOf(item)}); err != nil {
		t.Fatal(err)
	}
	late := inq
	late.ID = "late-" + u
	lateItem := stored(t, store, late)
	if failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "3", Source: "arn:test"},
		keysOf(lateItem), nil, lateItem)}); len(failed) != 0 {
		t.Fatalf("late record: %v failed", failed)
	}
	scan, err = store.ScanLedger(ctx)
	if err != nil || len(scan) != 2 {
		t.Fatalf("scan: %d, %v", len(scan), err)
	}
	for _, e := range scan {
		if e.Attrs["ref"] != "S:"+late.ID {
			continue
		}
		if problem := ledger.Check(e); problem != "" || e.Day != "2026-12-09" || e.Attrs["at"] != "S:"+"2026-12-08T10:00:00.123456789Z" {
			t.Fatalf("late entry day %s at %s: %q", e.Day, e.Attrs["at"], problem)
		}
		return
	}
	t.Fatal("no entry for the late record")
}

// The entry is written before anything that holds the inquiry's emails
// back or fails them: an acknowledgement held (the sender's mailbox past
// its limit), a restriction of processing, a suppression, a send that
// fails (queued for a retry, or failing the record). A record that can
// never be read writes nothing and is skipped as before.
func TestInquiryLedgerEntryWhateverHoldsTheEmail(t *testing.T) {
	t.Parallel()
	store, _, _ := ledgerStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 8, 11, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		ackHeld    bool
		restrict   restricted
		suppress   suppressed
		sendErr    error
		retries    bool
		wantFailed bool
	}{
		{name: "acknowledgement held", ackHeld: true},
		{name: "processing restricted", restrict: restricted{"req-r"}},
		{name: "address suppressed", suppress: suppressed{privacy.SuppressUnsubscribed}},
		{name: "send fails, queued for a retry", sendErr: errors.New("injected: connection reset"), retries: true},
		{name: "send fails, the record fails", sendErr: errors.New("injected: connection reset"), wantFailed: true},
	} {
		u := localtest.Unique()
		inq := privacy.NewInquiry("inq-"+u, privacy.SubjectID("subj-"+u), privacy.ContactForm{Email: "h-" + u + "@example.com", Message: "M"},
			"v1", privacy.RequestMeta{ReceivedAt: at})
		inq.AckHeld = c.ackHeld
		item := stored(t, store, inq)
		m := &mailer.Mailer{Ledger: store, Markers: store, Requests: store, Sender: &countingSender{fail: c.sendErr},
			Config: notify.Config{Company: "Example", TeamInbox: "team@example.com", PolicyURL: "https://example.com/p"},
			Log:    slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return at }, Lease: time.Minute,
			RetryBackoff: time.Minute, RetryMaxBackoff: time.Hour, GiveUp: time.Hour}
		if c.restrict != nil {
			m.Restrictions = c.restrict
		}
		if c.suppress != nil {
			m.Suppressions = c.suppress
		}
		if c.retries {
			m.Retries = store
		}
		failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "9", Source: "arn:test"}, keysOf(item), nil, item)})
		if (len(failed) != 0) != c.wantFailed {
			t.Errorf("%s: failed %v", c.name, failed)
		}
		es, err := store.LedgerEntries(ctx, inq.Subject)
		if err != nil || len(es) != 1 {
			t.Errorf("%s: %d ledger entries, %v; want 1", c.name, len(es), err)
		}
	}

	// An item the mailer cannot read: no entry (nothing to write it
	// from), the record skipped as before rather than blocking the shard.
	u := localtest.Unique()
	inq := privacy.NewInquiry("inq-"+u, privacy.SubjectID("subj-"+u), privacy.ContactForm{Email: "x-" + u + "@example.com", Message: "M"},
		"v1", privacy.RequestMeta{ReceivedAt: at})
	item := stored(t, store, inq)
	item["expires_at"] = &types.AttributeValueMemberS{Value: "not a number"}
	m := &mailer.Mailer{Ledger: store, Markers: store, Sender: &countingSender{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now: func() time.Time { return at }, Lease: time.Minute}
	if failed := m.Handle(ctx, []privacy.Change{dynamo.DecodeChange(privacy.Change{Seq: "10"}, keysOf(item), nil, item)}); len(failed) != 0 {
		t.Fatalf("unreadable item: %v failed", failed)
	}
	if es, err := store.LedgerEntries(ctx, inq.Subject); err != nil || len(es) != 0 {
		t.Fatalf("unreadable item: %d ledger entries, %v", len(es), err)
	}
}
