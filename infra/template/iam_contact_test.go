package template_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Issue #35 gap B: a processor's contact address changed by the team
// (dynamo.Store.ApproveProcessorAsk of a contact change, OperatorFunction: the PROC# item's
// contact_email, its copy under PROC#CONTACT that outlives the
// processor's removal, and the team's ledger entry in one transaction)
// and read by the mailer when it sends (Store.ProcessorContact: GetItem
// of that attribute alone, of PROC# and, for a processor removed, of
// PROC#CONTACT). Each path replayed against the transformed template's
// roles, and the mailer's grant asked directly: the contact address, and
// nothing else of a processor, nor a write.
func TestProcessorContactAsAWSSeesIt(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, who string
		answer    answer8
		want      []string
		calls     func(ctx context.Context, st *dynamo.Store) error
	}{
		{name: "the team changes a processor's contact", who: "OperatorFunction",
			want: []string{"TransactWriteItems"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				return st.ApproveProcessorAsk(ctx, privacy.ProcessorAsk{ID: "ask-1", Kind: privacy.ProcessorAskContact, AskedBy: "ann",
					AskedAt: now.Add(-time.Hour), Was: "privacy@old.example", Processor: privacy.Processor{ID: pmProcessor, Name: "Drift",
						Contact: "privacy@new.example"}}, privacy.Event{Subject: privacy.TeamSubject,
					Name: "processor_contact_changed", At: now, Ref: pmProcessor, LegalBasis: privacy.BasisLegalObligation,
					Detail: map[string]string{"by": "team", "contact_domain": "new.example"}})
			}},
		{name: "the mailer reads the contact when it sends", who: "MailerFunction",
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "GetItem" && tn == "OpsTable" {
					return 200, `{"Item":{"contact_email":{"S":"privacy@new.example"}}}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"GetItem OpsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				got, err := st.ProcessorContact(ctx, pmProcessor)
				if err == nil && got != "privacy@new.example" {
					t.Errorf("ProcessorContact = %q", got)
				}
				return err
			}},
		{name: "the mailer reads the last contact it saw a processor since removed have", who: "MailerFunction",
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "GetItem" && tn == "OpsTable" && strings.Contains(string(body), `"`+dynamo.ProcessorSeenPK+`"`) {
					return 200, `{"Item":{"contact_email":{"S":"privacy@new.example"}}}`
				}
				return ok8(op, tn, body) // no PROC# item: removed
			},
			want: []string{"GetItem OpsTable", "GetItem OpsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				got, err := st.ProcessorContact(ctx, pmProcessor)
				if err == nil && got != "privacy@new.example" {
					t.Errorf("ProcessorContact = %q", got)
				}
				return err
			}},
		{name: "the confirm link's check reads when the contact changed", who: "RightsFunction",
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "GetItem" && tn == "OpsTable" {
					return 200, `{"Item":{"contact_changed_at":{"S":"2026-12-07T12:00:00.000000000Z"}}}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"GetItem OpsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				got, err := st.ProcessorContactChangedAt(ctx, pmProcessor)
				if err == nil && !got.Equal(now) {
					t.Errorf("ProcessorContactChangedAt = %v, want %v", got, now)
				}
				return err
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			answer := c.answer
			if answer == nil {
				answer = ok8
			}
			reqs, ops := record8(t, siteTables7, answer, c.calls)
			if strings.Join(ops, ", ") != strings.Join(c.want, ", ") {
				t.Errorf("sent %v, want %v", ops, c.want)
			}
			for _, r := range decide7(t, c.who, reqs) {
				t.Errorf("%s: %s", c.who, r)
			}
		})
	}
	proc, kept := []string{"PROC#"}, []string{dynamo.ProcessorSeenPK}
	check(t, []ask{
		{"MailerFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc, "pk", "sk", "contact_email"), true},
		{"MailerFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc, "contact_email", "credentials_sealed"), false},
		{"MailerFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc, "certificate_pem"), false},
		{"MailerFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc), false}, // the whole item
		{"MailerFunction", "dynamodb:GetItem", table("OpsTable"), keys([]string{"CTRL#c"}, "contact_email"), false},
		{"MailerFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "pk", "sk", "contact_email"), false},
		{"MailerFunction", "dynamodb:PutItem", table("OpsTable"), keys(proc, "pk", "sk", "contact_email"), false},
		{"MailerFunction", "dynamodb:Query", table("OpsTable"), keys(proc, "contact_email"), false},
		{"RightsFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "pk", "sk", "contact_email"), false},
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "pk", "sk", "contact_email"), true},
		// The last contact the mailer saw, kept after the processor's
		// removal: the mailer's alone (review 12: the operator's role had
		// put the one read before, PROC#CONTACT, untold).
		{"MailerFunction", "dynamodb:GetItem", table("OpsTable"), keys(kept, "pk", "sk", "contact_email"), true},
		{"MailerFunction", "dynamodb:GetItem", table("OpsTable"), keys(kept), false},
		{"MailerFunction", "dynamodb:PutItem", table("OpsTable"), keys(kept, "pk", "sk", "contact_email", "seen_at"), true},
		{"RightsFunction", "dynamodb:PutItem", table("OpsTable"), keys(kept, "pk", "sk", "contact_email"), false},
		{"OperatorFunction", "dynamodb:PutItem", table("OpsTable"), keys(kept, "pk", "sk", "contact_email"), false},
		{"OperatorFunction", "dynamodb:PutItem", table("OpsTable"), keys([]string{"PROC#CONTACT"}, "pk", "sk", "contact_email"), false},
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "pk", "sk", "contact_email", "contact_changed_at"), true},
		{"RightsFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc, "pk", "sk", "contact_changed_at"), true},
		{"RightsFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc, "contact_changed_at", "credentials_sealed"), false},
		{"RightsFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc, "contact_email"), false},
		{"RightsFunction", "dynamodb:GetItem", table("OpsTable"), keys(proc), false}, // the whole item
		{"RightsFunction", "dynamodb:GetItem", table("OpsTable"), keys([]string{"CTRL#c"}, "contact_changed_at"), false},
		{"RightsFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "contact_changed_at"), false},
	})
}
