package mailer_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/ses"
)

// Review 12 (hostile, OperatorFunction's role): the writer of a change
// chooses how its telling names the processor. processorChange names it
// by the new image (n.Name = After.Name), the former contact's notice
// included, and ContactChanged and the team's email strip control
// characters (Cc) only, not format characters such as U+202E (bidi
// override, Cf). The role puts the processor again with the contact it
// wants and a name of its own: the former contact is greeted with a
// processor name it never knew, saying what the role wants ("no action
// needed", reversed text), instead of the name it was registered under.
// Fails today.
func TestHostileReview12FormerContactsNoticeNamesWhatTheWriterChose(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	u := localtest.Unique()
	old, evil := "old-"+u+"@drift.example", "new-"+u+"@attacker.example"
	team := "team-" + u + "@example.com"
	id := "p-" + u
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Ops: tables["OpsTable"], Ledger: tables["LedgerTable"]})
	m := &mailer.Mailer{Markers: store, Sender: &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"},
		Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Now: time.Now, Lease: time.Minute,
		Config: notify.Config{Company: "Example", TeamInbox: team, PolicyURL: "https://example.com/p"}}
	handle := batch.Stream(dynamo.DecodeChange, (&mailer.Watch{Mailer: m, Registry: store}).Handle)
	s := events.NewStringAttribute
	lie := "Drift Analytics \u202Edeen noitca on\u202C - your DPO asked for this; no reply needed"
	img := func(name, contact string) map[string]events.DynamoDBAttributeValue {
		return map[string]events.DynamoDBAttributeValue{"pk": s("PROC#"), "sk": s(id), "name": s(name), "contact_email": s(contact)}
	}
	rec := events.DynamoDBEventRecord{EventName: "MODIFY", EventSourceArn: "arn:aws:dynamodb:us-east-1:0:table/ops/stream/x",
		Change: events.DynamoDBStreamRecord{SequenceNumber: "100", OldImage: img("Drift "+u, old), NewImage: img(lie, evil),
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now().UTC()},
			Keys:                        map[string]events.DynamoDBAttributeValue{"pk": s("PROC#"), "sk": s(id)}}}
	if resp, err := handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}}); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	got := localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(old) })
	if len(got) != 1 {
		t.Fatalf("%d notices to the former contact, want 1", len(got))
	}
	body := got[0].Body.Text
	if !strings.Contains(body, "Drift "+u) {
		t.Errorf("the former contact's notice does not name the processor it was registered under (%q); it says:\n%s", "Drift "+u, body)
	}
	if strings.ContainsAny(body, "\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069") {
		t.Errorf("the former contact's notice carries bidi format characters from the name the role wrote:\n%q", body)
	}
	for _, e := range localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(team) }) {
		if strings.ContainsAny(e.Body.Text+e.Subject, "\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069") {
			t.Errorf("the team's email carries bidi format characters from the name the role wrote:\n%q", e.Body.Text)
		}
	}
}

// Review 12 (hostile, OperatorFunction's role): a write that changes the
// contact and anything else at once is told as a contact change alone.
// Kind is contact_changed whenever the contact differs, and the team
// email's contact_changed paragraph names neither the other fields nor
// the OpenDSR host: the role moves the contact to a lookalike address of
// the same domain and, in the same put, the processor's OpenDSR url (where
// every erasure's identity goes) to its own host; the team reads "privacy
// contact address changed" and nothing of the url. Fails today.
func TestHostileReview12ContactChangeHidesAURLChange(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	u := localtest.Unique()
	team := "team-" + u + "@example.com"
	id := "p-" + u
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Ops: tables["OpsTable"], Ledger: tables["LedgerTable"]})
	m := &mailer.Mailer{Markers: store, Sender: &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"},
		Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Now: time.Now, Lease: time.Minute,
		Config: notify.Config{Company: "Example", TeamInbox: team, PolicyURL: "https://example.com/p"}}
	handle := batch.Stream(dynamo.DecodeChange, (&mailer.Watch{Mailer: m, Registry: store}).Handle)
	s := events.NewStringAttribute
	img := func(contact, url string) map[string]events.DynamoDBAttributeValue {
		return map[string]events.DynamoDBAttributeValue{"pk": s("PROC#"), "sk": s(id), "name": s("Pardot"), "contact_email": s(contact),
			"url": s(url), "credentials": s("sealed-" + url)}
	}
	rec := events.DynamoDBEventRecord{EventName: "MODIFY", EventSourceArn: "arn:aws:dynamodb:us-east-1:0:table/ops/stream/x",
		Change: events.DynamoDBStreamRecord{SequenceNumber: "100",
			OldImage:                    img("privacy-"+u+"@pardot.example", "https://opendsr.pardot.example/opendsr/v2"),
			NewImage:                    img("privacy-team-"+u+"@pardot.example", "https://opendsr.attacker.example/opendsr/v2"),
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now().UTC()},
			Keys:                        map[string]events.DynamoDBAttributeValue{"pk": s("PROC#"), "sk": s(id)}}}
	if resp, err := handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}}); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	got := localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(team) })
	if len(got) != 1 {
		t.Fatalf("%d emails to the team, want 1", len(got))
	}
	if body := got[0].Body.Text; !strings.Contains(body, "opendsr.attacker.example") || !strings.Contains(body, "url") {
		t.Errorf("the team's email of a write that moved the contact and the OpenDSR url (to opendsr.attacker.example) names only the contact (%q):\n%s",
			got[0].Subject, body)
	}
}
