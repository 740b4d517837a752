package template_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Issue #36 item 1: the contact form stores an inquiry alone (one
// conditional PutItem), and the mailer writes the inquiry's ledger entry
// from the inquiry's stream record (dynamo.Store.RecordInquiry). The
// requests each sends, as AWS evaluates them, against the role that
// sends them: the form's contact needs nothing of the ledger; the
// mailer's entry is allowed to the mailer, a first write and a retry that
// finds it there alike, and the mailer may do nothing else to the ledger.
// The form keeps its ledger grant: its signup (and the contact form's
// newsletter box, one transaction with the inquiry) writes the signup's
// entry.
func TestInquiryLedgerEntryIsTheMailers(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	inq := privacy.NewInquiry("inq-1", review7Subject, privacy.ContactForm{Name: "N", Email: "n@example.com", Message: "m"}, "v2",
		privacy.RequestMeta{SourceIP: "192.0.2.1", UserAgent: "ua", ReceivedAt: at})
	optIn := &privacy.PendingSignup{Sub: privacy.Signup{Email: "n@example.com", Topics: []string{"newsletter"}}, Subject: review7Subject,
		ID: "s1", Cooldown: time.Minute, Event: review7Event("subscribe_requested")}
	entryThere := func(op, tn string, body []byte) (int, string) {
		if op == "PutItem" && tn == "LedgerTable" {
			return ccf8("")
		}
		return ok8(op, tn, body)
	}
	for _, c := range []struct {
		name   string
		who    string
		answer answer8
		want   []string
		calls  func(ctx context.Context, st *dynamo.Store) error
	}{
		{"the contact: the inquiry alone", "FormsFunction", ok8, []string{"PutItem SubjectsTable"},
			func(ctx context.Context, st *dynamo.Store) error { return st.SaveInquiry(ctx, inq) }},
		{"the contact with the newsletter box: inquiry and signup together", "FormsFunction", ok8, []string{"TransactWriteItems"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.SaveInquiryWithSignup(ctx, inq, optIn)
				return err
			}},
		{"the mailer writes the inquiry's entry", "MailerFunction", ok8, []string{"PutItem LedgerTable"},
			func(ctx context.Context, st *dynamo.Store) error { return st.RecordInquiry(ctx, inq, at) }},
		{"the mailer's retry finds it there", "MailerFunction", entryThere, []string{"PutItem LedgerTable"},
			func(ctx context.Context, st *dynamo.Store) error {
				return st.RecordInquiry(ctx, inq, at.Add(25*time.Hour))
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs, ops := record8(t, siteTables7, c.answer, c.calls)
			if !slices.Equal(ops, c.want) {
				t.Fatalf("calls %v, want %v", ops, c.want)
			}
			for _, r := range decide7(t, c.who, reqs) {
				t.Errorf("%s: %s", c.who, r)
			}
		})
	}
	ledger := table("LedgerTable")
	entry := []string{"at", "day", "event", "expires_at", "h", "legal_basis", "pk", "policy_version", "purpose", "ref", "sk", "subject"}
	check(t, []ask{
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, entry...), true},
		// An inquiry's entry has no detail, but the role's grant allows one
		// (a site rights request's entry has one: the grant cannot tell
		// the two apart, iam_request_ledger_test.go); no other attribute.
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, append(entry, "detail", "salt", "detail_sha256")...), true},
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}, append(entry, "redacted_by")...), false},
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#a"}), false}, // attributes unnamed
		// A person's partition only.
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"S#team"}, entry...), false},
		{"MailerFunction", "dynamodb:PutItem", ledger, keys([]string{"SYSTEM#retention-sweep"}, entry...), false},
		// Nothing else of the ledger.
		{"MailerFunction", "dynamodb:UpdateItem", ledger, keys([]string{"S#a"}, redaction...), false},
		{"MailerFunction", "dynamodb:DeleteItem", ledger, keys([]string{"S#a"}, "pk", "sk"), false},
		{"MailerFunction", "dynamodb:Query", ledger, keys([]string{"S#a"}), false},
		{"MailerFunction", "dynamodb:GetItem", ledger, keys([]string{"S#a"}), false},
		{"MailerFunction", "dynamodb:BatchWriteItem", ledger, keys([]string{"S#a"}, entry...), false},
	})
}
