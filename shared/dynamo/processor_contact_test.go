package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo/dynamotest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The address the mailer writes a processor at (Store.ProcessorContact)
// through the team's changes and the processor's removal. Review 9
// (R9L-1): a contact changed and the processor then removed must not
// bring back the address the team replaced ("" sent the mailer to the
// address the delivery kept when it was queued: the retired one). Since
// review 12 a removed processor's address is the last the mailer saw on
// the ops table's stream (RememberContact, which mailer.Watch calls for
// each change): here called as the Watch would.
func TestProcessorContactThroughChangeAndRemoval(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	event := func(name privacy.EventName, id string) privacy.Event {
		return privacy.Event{Subject: privacy.TeamSubject, Name: name, At: at, Ref: id, LegalBasis: privacy.BasisLegalObligation,
			Detail: map[string]string{"by": "team"}}
	}
	seen := func(id, contact string) { // the mailer's Watch, on the change's record
		if err := s.RememberContact(ctx, id, contact, at); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		changes []string // the contacts the team sets, in turn
		remove  bool
		want    string
	}{
		{name: "registered, never changed", want: "privacy@old.example"},
		{name: "registered, changed", changes: []string{"dpo@new.example"}, want: "dpo@new.example"},
		{name: "changed twice", changes: []string{"dpo@new.example", "dpo@newer.example"}, want: "dpo@newer.example"},
		// What was queued before the removal still goes: to the
		// address the team set last, never to the one it replaced.
		{name: "changed, then removed", changes: []string{"dpo@new.example"}, remove: true, want: "dpo@new.example"},
		{name: "changed twice, then removed", changes: []string{"dpo@new.example", "dpo@newer.example"}, remove: true,
			want: "dpo@newer.example"},
		// Never changed: the one it was registered with.
		{name: "removed, never changed", remove: true, want: "privacy@old.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "proc-" + localtest.Unique()
			if err := dynamotest.PutProcessor(ctx, s, privacy.Processor{ID: id, Name: "Drift", Contact: "privacy@old.example", IdentityFormat: "raw",
				Types: []string{"erasure"}}, event("processor_added", id)); err != nil {
				t.Fatal(err)
			}
			seen(id, "privacy@old.example")
			for _, c := range tc.changes {
				if err := dynamotest.SetProcessorContact(ctx, s, id, c, event("processor_contact_changed", id)); err != nil {
					t.Fatal(err)
				}
				seen(id, c)
			}
			if tc.remove {
				if err := s.RemoveProcessor(ctx, id, event("processor_removed", id)); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := s.ProcessorContact(ctx, id); err != nil || got != tc.want {
				t.Errorf("ProcessorContact = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	// A removed processor's contact can be changed no more (the kept
	// address stays as it was), nor is the kept address listed as a
	// processor.
	id := "proc-" + localtest.Unique()
	if err := dynamotest.PutProcessor(ctx, s, privacy.Processor{ID: id, Name: "Gone", Contact: "privacy@gone.example", IdentityFormat: "raw",
		Types: []string{"erasure"}}, event("processor_added", id)); err != nil {
		t.Fatal(err)
	}
	if err := dynamotest.SetProcessorContact(ctx, s, id, "dpo@gone.example", event("processor_contact_changed", id)); err != nil {
		t.Fatal(err)
	}
	seen(id, "dpo@gone.example")
	if err := s.RemoveProcessor(ctx, id, event("processor_removed", id)); err != nil {
		t.Fatal(err)
	}
	if err := dynamotest.SetProcessorContact(ctx, s, id, "x@gone.example", event("processor_contact_changed", id)); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("changing a removed processor's contact: %v, want %v", err, privacy.ErrNotFound)
	}
	if got, err := s.ProcessorContact(ctx, id); err != nil || got != "dpo@gone.example" {
		t.Errorf("after a refused change, ProcessorContact = %q (%v)", got, err)
	}
	procs, err := s.Processors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.ID == id {
			t.Errorf("the removed processor is listed: %+v", p)
		}
	}
}
