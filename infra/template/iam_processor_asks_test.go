package template_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The two-person rule on processors (a registration, a change of a
// processor's privacy contact): the ask, the board's list of asks and the
// approval that carries one out (ending the ask, changing the processor,
// keeping the contact under PROC#CONTACT, the former contact's notice in
// the requests table, the ledger) replayed against OperatorFunction's
// role; and asked directly: the operator's grant on the asks is their own
// partition alone and no more actions than the code uses, and no
// internet-facing function (nor the mailer) reads or writes an ask. Fails
// on the template before the rule's grant (the operator may not write
// PROC#ASK).
func TestProcessorAsksAsAWSSeesThem(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	team := func(name privacy.EventName) privacy.Event {
		return privacy.Event{Subject: privacy.TeamSubject, Name: name, At: now, Ref: pmProcessor, LegalBasis: privacy.BasisLegalObligation,
			Detail: map[string]string{"by": "team", "contact_domain": "new.example"}}
	}
	change := privacy.ProcessorAsk{ID: "ask-1", Kind: privacy.ProcessorAskContact, Was: "privacy@old.example", AskedBy: "ann",
		AskedAt: now.Add(-time.Hour), Reason: "moved", Processor: privacy.Processor{ID: pmProcessor, Name: "Drift", Contact: "privacy@new.example"}}
	register := privacy.ProcessorAsk{ID: "ask-2", Kind: privacy.ProcessorAskAdd, AskedBy: "ann", AskedAt: now.Add(-time.Hour),
		Processor: privacy.Processor{ID: pmProcessor, Name: "Drift", Contact: "privacy@new.example", IdentityFormat: "raw",
			Types: []string{"erasure"}}}
	for _, c := range []struct {
		name  string
		want  []string
		calls func(ctx context.Context, st *dynamo.Store) error
	}{
		{"a member asks", []string{"TransactWriteItems"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.AskProcessor(ctx, change, team("processor_contact_change_asked"))
		}},
		{"the board lists the asks", []string{"Query OpsTable"}, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.ProcessorAsks(ctx)
			return err
		}},
		{"another member approves a contact change", []string{"TransactWriteItems"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.ApproveProcessorAsk(ctx, change, team("processor_contact_changed"))
		}},
		{"another member approves a registration", []string{"TransactWriteItems"}, func(ctx context.Context, st *dynamo.Store) error {
			return st.ApproveProcessorAsk(ctx, register, team("processor_added"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs, ops := record8(t, siteTables7, ok8, c.calls)
			if strings.Join(ops, ", ") != strings.Join(c.want, ", ") {
				t.Errorf("sent %v, want %v", ops, c.want)
			}
			for _, r := range decide7(t, "OperatorFunction", reqs) {
				t.Errorf("OperatorFunction: %s", r)
			}
		})
	}
	asks := []string{dynamo.ProcessorAskPK}
	checks := []ask{
		{"OperatorFunction", "dynamodb:PutItem", table("OpsTable"), keys(asks), true},
		{"OperatorFunction", "dynamodb:Query", table("OpsTable"), keys(asks), true},
		{"OperatorFunction", "dynamodb:DeleteItem", table("OpsTable"), keys(asks), true},
		// No more than the code uses: an ask is never edited in place.
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(asks), false},
		{"OperatorFunction", "dynamodb:BatchWriteItem", table("OpsTable"), keys(asks), false},
	}
	for _, fn := range []string{"RightsFunction", "FormsFunction", "OpenDSRFunction", "MailerFunction", "ConsoleAuthFunction"} {
		for _, action := range []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:GetItem"} {
			checks = append(checks, ask{fn, action, table("OpsTable"), keys(asks), false})
		}
	}
	check(t, checks)
}
