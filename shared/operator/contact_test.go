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

// The team changes a registered processor's privacy contact address
// (issue #35 gap B): only a member who decides, with a valid address and
// a reason, for a processor that is registered; a refusal changes nothing.
// The change is what the mailer reads (Store.ProcessorContact), and the
// team's ledger names who, why and the two domains, never an address.
func TestChangeProcessorContact(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	ann := operator.Caller{By: "ann@team.example", MayDecide: true}
	viewer := operator.Caller{By: "vic@team.example"}
	p, err := op.AddProcessor(ctx, ann, operator.NewProcessor{Name: "Drift", Contact: "privacy@drift.example", Reason: "contract signed"})
	if err != nil {
		t.Fatal(err)
	}
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

	v, err := op.ChangeProcessorContact(ctx, ann, p.ID, " DPO@Drift-Privacy.example ", "their DPO moved")
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
			if strings.Contains(v, "@") {
				t.Errorf("the audit's %s %s holds an address: %q", e.Action, k, v)
			}
		}
	}
	if len(changed) != 1 {
		t.Fatalf("%d processor_contact_changed entries (refusals must write none): %+v", len(changed), changed)
	}
	if e := changed[0]; e.By != ann.By || e.On != p.ID || e.Reason != "their DPO moved" ||
		e.Detail["contact_domain"] != "drift-privacy.example" || e.Detail["previous_contact_domain"] != "drift.example" {
		t.Errorf("the entry %+v", e)
	}
}
