package template_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Review 10 (the two-person rule on processors, role against code):
// every request OperatorFunction's code sends to the processors' items of
// the ops table (PROC#, PROC#CONTACT, PROC#ASK), replayed through a real
// dynamo.Store: a member's ask (a registration, a contact change), the
// board's list of asks, a second member's approval of each kind (a
// contact change over a contact and over none, a registration), the
// approval refused (the ask replaced), the processors' list and a
// removal. Each is allowed (no call AWS would deny). Then the grant
// ControllersAndProcessors, which the approval relies on, asked for what
// no replayed request sends: it allows today
//
//   - UpdateItem, DeleteItem, ConditionCheckItem and Query on
//     PROC#CONTACT (the code only puts it, in the approval's
//     transaction);
//   - ConditionCheckItem on PROC# (the controllers' credential check is
//     CTRL#'s);
//   - UpdateItem of any attribute of a processor (the code updates
//     contact_email and contact_changed_at, nothing else: its url, its
//     sealed credentials, its certificate, its types are only ever
//     written whole, by the registration's Put).
//
// Fails on the template under review: each "never sent" row is allowed.
// (PutItem on PROC# stays: the approved registration needs it, and IAM
// cannot tell an approved registration's Put from one that overwrites a
// registered processor's contact; see the report.)
func TestReview10OperatorProcessorGrantIsWhatTheCodeSends(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	team := func(name privacy.EventName) privacy.Event {
		return privacy.Event{Subject: privacy.TeamSubject, Name: name, At: now, Ref: pmProcessor, LegalBasis: privacy.BasisLegalObligation,
			Detail: map[string]string{"by": "team", "contact_domain": "new.example"}}
	}
	change := privacy.ProcessorAsk{ID: "ask-1", Kind: privacy.ProcessorAskContact, Was: "privacy@old.example", AskedBy: "ann",
		AskedAt: now.Add(-time.Hour), Reason: "moved", Processor: privacy.Processor{ID: pmProcessor, Name: "Drift", Contact: "privacy@new.example"}}
	first := change
	first.Was = "" // a processor registered by its OpenDSR url alone: no contact yet, no notice
	register := privacy.ProcessorAsk{ID: "ask-2", Kind: privacy.ProcessorAskAdd, AskedBy: "ann", AskedAt: now.Add(-time.Hour),
		Processor: privacy.Processor{ID: pmProcessor, Name: "Drift", URL: "https://drift.example/opendsr/v2", Credentials: "sealed",
			Certificate: "PEM", Contact: "privacy@new.example", IdentityFormat: "raw", Types: []string{"erasure"}}}
	var sent []iamsim.Request
	for _, c := range []struct {
		name   string
		answer answer8
		calls  func(ctx context.Context, st *dynamo.Store) error
	}{
		{"a member asks a contact change", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.AskProcessor(ctx, change, team("processor_contact_change_asked"))
		}},
		{"a member asks a registration", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.AskProcessor(ctx, register, team("processor_add_asked"))
		}},
		{"the board lists the asks", ok8, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.ProcessorAsks(ctx)
			return err
		}},
		{"the processors' list", func(op, tn string, body []byte) (int, string) {
			if op == "Query" && tn == "OpsTable" {
				return 200, `{"Items":[` + pmProcessorItem + `],"Count":1,"ScannedCount":1}`
			}
			return ok8(op, tn, body)
		}, func(ctx context.Context, st *dynamo.Store) error {
			_, err := st.Processors(ctx)
			return err
		}},
		{"a second member approves a contact change", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.ApproveProcessorAsk(ctx, change, team("processor_contact_changed"))
		}},
		{"a second member approves a processor's first contact", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.ApproveProcessorAsk(ctx, first, team("processor_contact_changed"))
		}},
		{"a second member approves a registration", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.ApproveProcessorAsk(ctx, register, team("processor_added"))
		}},
		{"an approval of an ask replaced since", func(op, tn string, body []byte) (int, string) {
			if op == "TransactWriteItems" {
				return cancelled8(0, 5)
			}
			return ok8(op, tn, body)
		}, func(ctx context.Context, st *dynamo.Store) error {
			if err := st.ApproveProcessorAsk(ctx, change, team("processor_contact_changed")); err == nil {
				return fmt.Errorf("a refused approval answered nil")
			}
			return nil
		}},
		{"a member removes a processor", ok8, func(ctx context.Context, st *dynamo.Store) error {
			return st.RemoveProcessor(ctx, pmProcessor, team("processor_removed"))
		}},
	} {
		reqs, _ := record8(t, siteTables7, c.answer, c.calls)
		for _, r := range decide7(t, "OperatorFunction", reqs) {
			t.Errorf("%s: OperatorFunction: %s", c.name, r)
		}
		sent = append(sent, reqs...)
	}

	// What the code sends to the processors' items: action, partition,
	// attributes.
	processors := []string{dynamo.ProcessorPrefix, "PROC#CONTACT", dynamo.ProcessorAskPK}
	var used []string
	for _, r := range sent {
		lk, _ := r.Context["dynamodb:LeadingKeys"].([]string)
		if r.Resource != table("OpsTable") || len(lk) != 1 || !slices.Contains(processors, lk[0]) {
			continue
		}
		attrs, _ := r.Context["dynamodb:Attributes"].([]string)
		used = append(used, r.Action+" "+lk[0]+" "+strings.Join(attrs, ","))
	}
	slices.Sort(used)
	used = slices.Compact(used)
	t.Logf("the code's requests on the processors' items:\n%s", strings.Join(used, "\n"))
	sends := func(action, pk string, attrs ...string) bool {
		for _, u := range used {
			f := strings.SplitN(u, " ", 3)
			if f[0] != action || f[1] != pk {
				continue
			}
			got := strings.Split(f[2], ",")
			if len(attrs) == 0 || !slices.ContainsFunc(attrs, func(a string) bool { return !slices.Contains(got, a) }) {
				return true
			}
		}
		return false
	}

	// PROC#CONTACT: the contact the approval kept until review 12, which
	// the operator's role could put alone, untold; nothing writes it now.
	proc, kept := []string{dynamo.ProcessorPrefix}, []string{"PROC#CONTACT"}
	never := []ask{
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(kept, "contact_email", "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:DeleteItem", table("OpsTable"), keys(kept, "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:ConditionCheckItem", table("OpsTable"), keys(kept, "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:Query", table("OpsTable"), keys(kept), false},
		{"OperatorFunction", "dynamodb:ConditionCheckItem", table("OpsTable"), keys(proc, "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "pk", "sk", "url"), false},
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "credentials_sealed", "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "certificate_pem", "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "pk", "sk", "types"), false},
	}
	for _, a := range never {
		lk := a.context["dynamodb:LeadingKeys"].([]string)[0]
		attrs, _ := a.context["dynamodb:Attributes"].([]string)
		if sends(a.action, lk, slices.DeleteFunc(slices.Clone(attrs), func(s string) bool { return s == "pk" || s == "sk" })...) {
			t.Fatalf("the code does send %s on %s %v: the row is wrong", a.action, lk, attrs)
		}
	}
	// What it does send stays allowed once the grant is narrowed.
	check(t, append([]ask{
		{"OperatorFunction", "dynamodb:UpdateItem", table("OpsTable"), keys(proc, "contact_changed_at", "contact_email", "pk", "sk"), true},
		{"OperatorFunction", "dynamodb:PutItem", table("OpsTable"), keys(kept, "contact_email", "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:DeleteItem", table("OpsTable"), keys(proc, "pk", "sk"), true},
		{"OperatorFunction", "dynamodb:Query", table("OpsTable"), keys(proc), true},
	}, never...))
}
