package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/ses"
)

// failFor injects a transient failure for one recipient in front of the
// real SES sender; every other message goes to the SES emulator.
type failFor struct {
	next mailer.Sender
	addr string
	on   atomic.Bool
}

func (f *failFor) Send(ctx context.Context, m notify.Message) (string, error) {
	if f.on.Load() && m.To[0] == f.addr {
		return "", errors.New("injected: connection reset by peer")
	}
	return f.next.Send(ctx, m)
}

func inquiryRecord(seq, email, eventName, oldDue string) events.DynamoDBEventRecord {
	s := events.NewStringAttribute
	img := map[string]events.DynamoDBAttributeValue{
		"pk": s("S#" + email), "sk": s("INQ#2026-01-01T00:00:00Z#" + seq), "kind": s("inquiry"),
		"id": s("inq-" + seq), "subject": s("subj"), "name": s("Name " + seq), "email": s(email),
		"topic": s("question"), "message": s("Message " + seq), "purpose": s("respond_to_inquiry"),
		"legal_basis": s("legitimate_interest"), "policy_version": s("v1"),
		"created_at": s("2026-01-01T00:00:00Z"), "expires_at": events.NewNumberAttribute("1893456000"),
		"mail_due": s("inquiry_received"),
	}
	rec := events.DynamoDBEventRecord{EventName: eventName, EventSourceArn: "arn:test",
		Change: events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: img,
			Keys: map[string]events.DynamoDBAttributeValue{"pk": img["pk"], "sk": img["sk"]}}}
	if oldDue != "" {
		old := map[string]events.DynamoDBAttributeValue{}
		for k, v := range img {
			old[k] = v
		}
		old["mail_due"] = s(oldDue)
		rec.Change.OldImage = old
	}
	return rec
}

func TestMailerReportsFailuresAndNeverSendsTwice(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	u := localtest.Unique()
	a, b, c := "a-"+u+"@example.com", "b-"+u+"@example.com", "c-"+u+"@example.com"
	team := "team-" + u + "@example.com"
	inj := &failFor{next: &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"}, addr: b}
	inj.on.Store(true)
	var logs bytes.Buffer
	m := &mailer.Mailer{
		Markers: dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Ops: tables["OpsTable"]}),
		Sender:  inj,
		Config:  notify.Config{Company: "Example", TeamInbox: team, PolicyURL: "https://example.com/p"},
		Log:     slog.New(slog.NewJSONHandler(&logs, nil)),
		Now:     time.Now,
		Lease:   time.Minute,
	}
	ctx := context.Background()
	// The mailer's function as Lambda runs it: the stream's event through
	// its adapter.
	handle := batch.Stream(dynamo.DecodeChange, m.Handle)
	recs := []events.DynamoDBEventRecord{
		inquiryRecord("100", a, "INSERT", ""),
		inquiryRecord("200", b, "INSERT", ""),
		inquiryRecord("300", c, "INSERT", ""),
	}
	resp, err := handle(ctx, events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "200" {
		t.Fatalf("failures %+v, want exactly sequence 200", resp.BatchItemFailures)
	}
	count := func(addr string) int {
		return len(localtest.Emails(t, svc, func(e localtest.Email) bool {
			return e.To(addr) || (e.To(team) && strings.Contains(strings.Join(e.ReplyTo, ","), addr))
		}))
	}
	if count(a) != 2 || count(c) != 2 || count(b) != 0 {
		t.Fatalf("after the first batch: a=%d b=%d c=%d emails, want 2, 0, 2", count(a), count(b), count(c))
	}

	// The stream redelivers from the failed record; the whole batch is
	// delivered once more too, as after a crash. Nothing is sent twice.
	inj.on.Store(false)
	for _, redelivery := range [][]events.DynamoDBEventRecord{recs[1:], recs} {
		resp, err = handle(ctx, events.DynamoDBEvent{Records: redelivery})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: %+v, %v", resp, err)
		}
	}
	if count(a) != 2 || count(b) != 2 || count(c) != 2 {
		t.Fatalf("after redelivery: a=%d b=%d c=%d emails, want 2 each", count(a), count(b), count(c))
	}

	// Changes that do not make an email due send nothing: a TTL deletion,
	// a MODIFY that keeps the same mail_due (say, metadata stripped), and
	// an item the mailer has no emails for (logged, not retried).
	d := "d-" + u + "@example.com"
	ttl := inquiryRecord("400", d, "REMOVE", "")
	ttl.UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	unknown := inquiryRecord("600", d, "INSERT", "")
	unknown.Change.NewImage["kind"] = events.NewStringAttribute("mystery")
	resp, err = handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		ttl, inquiryRecord("500", d, "MODIFY", "inquiry_received"), unknown,
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("no-op batch: %+v, %v", resp, err)
	}
	time.Sleep(200 * time.Millisecond)
	if count(d) != 0 {
		t.Fatalf("%d emails for changes that make none due", count(d))
	}
	for _, pii := range []string{a, b, c, d, "Message 100", "Name 100"} {
		if strings.Contains(logs.String(), pii) {
			t.Errorf("the mailer logged personal data %q", pii)
		}
	}
}

func TestSampleStreamEvents(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	team := "team-" + localtest.Unique() + "@example.com"
	m := &mailer.Mailer{
		Markers: dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Ops: tables["OpsTable"]}),
		Sender:  &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"},
		Config:  notify.Config{Company: "Example", TeamInbox: team},
		Log:     slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now, Lease: time.Minute,
	}
	toTeam := func(e localtest.Email) bool { return e.To(team) }
	for _, step := range []struct {
		file          string
		wantTeamMails int
	}{{"mailer-ttl-remove.json", 0}, {"mailer-inquiry-insert.json", 1}} {
		file, wantTeamMails := step.file, step.wantTeamMails
		var ev events.DynamoDBEvent
		localtest.SampleEvent(t, file, &ev)
		resp, err := batch.Stream(dynamo.DecodeChange, m.Handle)(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %+v %v", file, resp, err)
		}
		if got := len(localtest.Emails(t, svc, toTeam)); got != wantTeamMails {
			t.Fatalf("after %s: %d team emails, want %d", file, got, wantTeamMails)
		}
	}
}

// throttled answers like SES throttling while on, for every message.
type throttled struct {
	next mailer.Sender
	on   atomic.Bool
}

func (f *throttled) Send(ctx context.Context, m notify.Message) (string, error) {
	if f.on.Load() {
		return "", errors.New("injected: TooManyRequestsException: Maximum sending rate exceeded")
	}
	return f.next.Send(ctx, m)
}

// SES throttling for longer than the stream would retry: the records
// succeed at once (the shard moves on), their emails wait in the retry
// queue with backoff, and every one arrives exactly once after recovery;
// one whose item was erased meanwhile sends nothing; one failing past
// GiveUp is abandoned, counted for the alarm.
func TestThrottledSendsAreRetriedFromTheQueue(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Ops: tables["OpsTable"], Subjects: tables["SubjectsTable"],
		Requests: tables["RequestsTable"], Ledger: tables["LedgerTable"], Suppression: tables["SuppressionTable"]})
	u := localtest.Unique()
	team := "team-" + u + "@example.com"
	sender := &throttled{next: &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"}}
	sender.on.Store(true)
	var logs bytes.Buffer
	t0 := time.Now().UTC().Truncate(time.Second)
	now := t0
	m := &mailer.Mailer{Markers: store, Requests: store, Sender: sender, Retries: store,
		RetryBackoff: time.Minute, RetryMaxBackoff: time.Hour, GiveUp: 24 * time.Hour,
		Config: notify.Config{Company: "Example", TeamInbox: team, PolicyURL: "https://example.com/p"},
		Log:    slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return now }, Lease: time.Minute}
	ctx := context.Background()
	arn := "arn:aws:dynamodb:ddblocal:000000000000:table/" + tables["SubjectsTable"] + "/stream/2026-12-02T00:00:00.000"

	// Three inquiries, stored as the form stores them; their changes as
	// the stream brings them.
	var changes []privacy.Change
	addrs := []string{"kept-" + u + "@example.com", "erased-" + u + "@example.com", "late-" + u + "@example.com"}
	var inqs []privacy.Inquiry
	for i, addr := range addrs {
		inq := privacy.NewInquiry(fmt.Sprintf("inq-%s-%d", u, i), privacy.SubjectID("subj-"+u+fmt.Sprint(i)),
			privacy.ContactForm{Name: "N", Email: addr, Topic: "demo", Message: "M"}, "v1", privacy.RequestMeta{ReceivedAt: t0})
		if err := store.SaveInquiry(ctx, inq); err != nil {
			t.Fatal(err)
		}
		inqs = append(inqs, inq)
		items, err := store.SubjectItems(ctx, inq.Subject)
		if err != nil || len(items) != 1 {
			t.Fatalf("%v %d", err, len(items))
		}
		item := items[0]
		changes = append(changes, dynamo.DecodeChange(privacy.Change{Seq: fmt.Sprint(100 + i), Source: arn},
			map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]}, nil, item))
	}
	if failed := m.Handle(ctx, changes); len(failed) != 0 {
		t.Fatalf("throttled batch: %v failed (the records should be queued, not failed)", failed)
	}
	// The same records delivered again by the stream queue nothing twice.
	if failed := m.Handle(ctx, changes); len(failed) != 0 {
		t.Fatalf("redelivery: %v failed", failed)
	}
	count := func(addr string) int {
		return len(localtest.Emails(t, svc, func(e localtest.Email) bool {
			return e.To(addr) || (e.To(team) && strings.Contains(strings.Join(e.ReplyTo, ","), addr))
		}))
	}
	run := func(at time.Duration, want mailer.RetryReport) {
		t.Helper()
		now = t0.Add(at)
		rep, err := m.Retry(ctx)
		if err != nil || rep != want {
			t.Fatalf("retry at %s: %+v %v, want %+v", at, rep, err, want)
		}
	}
	run(30*time.Second, mailer.RetryReport{})                                                        // not due before the backoff
	run(time.Minute, mailer.RetryReport{Tried: 3, Again: 3})                                         // still throttled: 2 minutes more
	run(2*time.Minute, mailer.RetryReport{})                                                         // backing off
	if _, _, err := store.Erase(ctx, inqs[1].Subject, "req-x", privacy.Event{At: now}); err != nil { // erased meanwhile
		t.Fatalf("erase: %v", err)
	}
	sender.on.Store(false)
	// The third is kept failing past GiveUp by a sender that refuses only it.
	m.Sender = &failFor{next: sender, addr: addrs[2]}
	m.Sender.(*failFor).on.Store(true)
	run(3*time.Minute, mailer.RetryReport{Tried: 3, Sent: 1, Dropped: 1, Again: 1})
	if count(addrs[0]) != 2 || count(addrs[1]) != 0 {
		t.Fatalf("after recovery: kept %d emails (want 2), erased %d (want 0)", count(addrs[0]), count(addrs[1]))
	}
	run(25*time.Hour, mailer.RetryReport{Tried: 1, Abandoned: 1})
	run(26*time.Hour, mailer.RetryReport{})
	if count(addrs[0]) != 2 || count(addrs[2]) != 0 {
		t.Fatalf("at the end: kept %d, late %d", count(addrs[0]), count(addrs[2]))
	}
	if !strings.Contains(logs.String(), `"EmailsAbandoned":1`) {
		t.Error("no EmailsAbandoned metric for the alarm")
	}
	for _, pii := range addrs {
		if strings.Contains(logs.String(), pii) {
			t.Errorf("the mailer logged %q", pii)
		}
	}
}
