package operator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// register asks a processor's registration as asker and has approver
// approve it.
func register(t *testing.T, op *operator.Operator, asker, approver operator.Caller, n operator.NewProcessor) operator.ProcessorView {
	t.Helper()
	ctx := context.Background()
	ask, err := op.AddProcessor(ctx, asker, n)
	if err != nil {
		t.Fatal(err)
	}
	p, err := op.ApproveProcessorAsk(ctx, approver, ask.ID, "checked the contract")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The team changes a registered processor's privacy contact address
// (issue #35 gap B): only a member who decides, with a valid address and
// a reason, for a processor that is registered; a refusal changes nothing.
// The change is asked by one member and made by another's approval; it is
// what the mailer reads (Store.ProcessorContact), and the team's ledger
// names who, why and the two domains, never an address.
func TestChangeProcessorContact(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	ann := operator.Caller{By: "ann@team.example", MayDecide: true}
	ben := operator.Caller{By: "arn:aws:iam::000000000000:user/ben", MayDecide: true}
	viewer := operator.Caller{By: "vic@team.example"}
	p := register(t, op, ann, ben, operator.NewProcessor{Name: "Drift", Contact: "privacy@drift.example", Reason: "contract signed"})
	for _, tc := range []struct {
		name                string
		c                   operator.Caller
		id, contact, reason string
		want                error
	}{
		{"a viewer", viewer, p.ID, "dpo@drift.example", "their DPO moved", operator.ErrForbidden},
		{"no caller", operator.Caller{MayDecide: true}, p.ID, "dpo@drift.example", "their DPO moved", operator.ErrForbidden},
		{"no id", ann, "", "dpo@drift.example", "their DPO moved", operator.ErrBadRequest},
		{"no such processor", ann, "00000000-0000-4000-8000-999999999999", "dpo@drift.example", "their DPO moved", privacy.ErrNotFound},
		{"not an address", ann, p.ID, "dpo at drift", "their DPO moved", operator.ErrBadRequest},
		{"a header break", ann, p.ID, "dpo@drift.example\r\nBcc: x@evil.example", "their DPO moved", operator.ErrBadRequest},
		{"no reason", ann, p.ID, "dpo@drift.example", " ", operator.ErrBadRequest},
		{"a reason hiding text", ann, p.ID, "dpo@drift.example", "moved\u202e", operator.ErrBadRequest},
		{"the same address", ann, p.ID, "Privacy@Drift.example", "their DPO moved", operator.ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := op.ChangeProcessorContact(ctx, tc.c, tc.id, tc.contact, tc.reason); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if got, err := store.ProcessorContact(ctx, p.ID); err != nil || got != "privacy@drift.example" {
				t.Fatalf("the contact is %q (%v) after a refusal", got, err)
			}
		})
	}

	ask, err := op.ChangeProcessorContact(ctx, ann, p.ID, " DPO@Drift-Privacy.example ", "their DPO moved")
	if err != nil {
		t.Fatal(err)
	}
	if ask.Processor.Contact != "dpo@drift-privacy.example" || ask.Processor.ID != p.ID || ask.Was != "privacy@drift.example" ||
		ask.AskedBy != ann.By || !ask.LapsesAt.Equal(ask.AskedAt.Add(privacy.ProcessorAskLapses)) {
		t.Errorf("answered %+v", ask)
	}
	if got, err := store.ProcessorContact(ctx, p.ID); err != nil || got != "privacy@drift.example" {
		t.Fatalf("the ask alone changed the contact to %q (%v)", got, err)
	}
	v, err := op.ApproveProcessorAsk(ctx, ben, ask.ID, "called their DPO on the number in the contract")
	if err != nil {
		t.Fatal(err)
	}
	if v.Contact != "dpo@drift-privacy.example" || v.ID != p.ID || v.Name != "Drift" {
		t.Errorf("answered %+v", v)
	}
	if got, err := store.ProcessorContact(ctx, p.ID); err != nil || got != "dpo@drift-privacy.example" {
		t.Errorf("the mailer would write to %q (%v)", got, err)
	}
	if got, err := store.ProcessorContact(ctx, "00000000-0000-4000-8000-999999999999"); err != nil || got != "" {
		t.Errorf("an unregistered processor's contact: %q (%v)", got, err)
	}
	if asks, err := op.ProcessorAsks(ctx, ann); err != nil || len(asks) != 0 {
		t.Errorf("asks after the approval: %+v (%v)", asks, err)
	}
	today := time.Now().UTC()
	entries, err := op.Audit(ctx, ann, today, today)
	if err != nil {
		t.Fatal(err)
	}
	var changed []operator.AuditEntry
	for _, e := range entries {
		if e.Action == "processor_contact_changed" {
			changed = append(changed, e)
		}
		for k, v := range e.Detail {
			if strings.Contains(v, "@") && k != "asked_by" {
				t.Errorf("the audit's %s %s holds an address: %q", e.Action, k, v)
			}
		}
	}
	if len(changed) != 1 {
		t.Fatalf("%d processor_contact_changed entries (refusals must write none): %+v", len(changed), changed)
	}
	if e := changed[0]; e.By != ben.By || e.On != p.ID || e.Reason != "called their DPO on the number in the contract" ||
		e.Detail["asked_by"] != ann.By || e.Detail["contact_domain"] != "drift-privacy.example" ||
		e.Detail["previous_contact_domain"] != "drift.example" {
		t.Errorf("the entry %+v", e)
	}
}

// The two-person rule on processors: one member's ask changes nothing;
// they cannot approve it themselves (nor as another session of the same
// role); an ask replaced by a newer one, lapsed, or over a processor
// changed or removed since is refused; a viewer approves nothing. Each
// fails on the code before the rule: the change was made at once.
func TestProcessorAsksNeedASecondMember(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	role := "arn:aws:sts::000000000000:assumed-role/PrivacyTeam/"
	alice := operator.Caller{By: role + "alice", MayDecide: true}
	alice2 := operator.Caller{By: role + "alice-2", MayDecide: true}
	ben := operator.Caller{By: "ben@team.example", MayDecide: true}
	viewer := operator.Caller{By: "vic@team.example"}

	// A registration alone registers nothing; its asker cannot approve it.
	ask, err := op.AddProcessor(ctx, alice, operator.NewProcessor{Name: "Evil", Contact: "inbox@attacker.example", Reason: "new vendor"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []operator.Caller{alice, alice2, viewer} {
		if _, err := op.ApproveProcessorAsk(ctx, c, ask.ID, "looks fine"); !errors.Is(err, operator.ErrForbidden) {
			t.Errorf("%s approved the registration: %v", c.By, err)
		}
	}
	if ps, err := op.Processors(ctx, ben); err != nil || len(ps) != 0 {
		t.Fatalf("registered by one member: %+v (%v)", ps, err)
	}
	if _, err := op.ApproveProcessorAsk(ctx, ben, ask.ID, " "); !errors.Is(err, operator.ErrBadRequest) {
		t.Errorf("an approval without a reason: %v", err)
	}
	p, err := op.ApproveProcessorAsk(ctx, ben, ask.ID, "checked the contract")
	if err != nil || p.Contact != "inbox@attacker.example" {
		t.Fatalf("ben's approval: %+v %v", p, err)
	}
	if _, err := op.ApproveProcessorAsk(ctx, ben, ask.ID, "again"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("an ask approved twice: %v", err)
	}

	// A change asked by alice, replaced by her newer ask: ben's approval
	// of the first is refused and changes nothing.
	first, err := op.ChangeProcessorContact(ctx, alice, p.ID, "dpo@vendor.example", "their DPO moved")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.ApproveProcessorAsk(ctx, alice2, first.ID, "my own"); !errors.Is(err, operator.ErrForbidden) {
		t.Errorf("alice approved her own change under another session name: %v", err)
	}
	second, err := op.ChangeProcessorContact(ctx, alice, p.ID, "mine@attacker.example", "typo in the first")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.ApproveProcessorAsk(ctx, ben, first.ID, "checked dpo@vendor"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("the replaced ask approved: %v", err)
	}
	if got, _ := store.ProcessorContact(ctx, p.ID); got != "inbox@attacker.example" {
		t.Fatalf("contact %q after refusals", got)
	}

	// Lapsed: 72 hours later the waiting ask is refused.
	now := op.Now
	op.Now = func() time.Time { return now().Add(privacy.ProcessorAskLapses + time.Minute) }
	if asks, err := op.ProcessorAsks(ctx, ben); err != nil || len(asks) != 1 || asks[0].ID != second.ID || !strings.Contains(asks[0].Stale, "lapsed") {
		t.Errorf("the board's asks once lapsed: %+v (%v)", asks, err)
	}
	if _, err := op.ApproveProcessorAsk(ctx, ben, second.ID, "late"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("a lapsed ask approved: %v", err)
	}
	op.Now = now

	// Asked, then the processor removed: the approval is refused.
	third, err := op.ChangeProcessorContact(ctx, alice, p.ID, "dpo@vendor.example", "their DPO moved")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.RemoveProcessor(ctx, ben, p.ID, "contract ended"); err != nil {
		t.Fatal(err)
	}
	if asks, _ := op.ProcessorAsks(ctx, ben); len(asks) != 1 || asks[0].Stale == "" {
		t.Errorf("the board's ask over a removed processor: %+v", asks)
	}
	if _, err := op.ApproveProcessorAsk(ctx, ben, third.ID, "checked"); !errors.Is(err, privacy.ErrStale) {
		t.Errorf("an ask over a removed processor approved: %v", err)
	}
	if got, _ := store.ProcessorContact(ctx, p.ID); got != "" {
		t.Errorf("the removed processor's contact set to %q", got)
	}
}
