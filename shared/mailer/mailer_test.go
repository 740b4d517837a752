package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
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
	batch := []events.DynamoDBEventRecord{
		inquiryRecord("100", a, "INSERT", ""),
		inquiryRecord("200", b, "INSERT", ""),
		inquiryRecord("300", c, "INSERT", ""),
	}
	resp, err := m.Handle(ctx, events.DynamoDBEvent{Records: batch})
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
	for _, redelivery := range [][]events.DynamoDBEventRecord{batch[1:], batch} {
		resp, err = m.Handle(ctx, events.DynamoDBEvent{Records: redelivery})
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
	resp, err = m.Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
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
		resp, err := m.Handle(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %+v %v", file, resp, err)
		}
		if got := len(localtest.Emails(t, svc, toTeam)); got != wantTeamMails {
			t.Fatalf("after %s: %d team emails, want %d", file, got, wantTeamMails)
		}
	}
}
