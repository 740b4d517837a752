package rights_test

import (
	"context"
	"errors"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Issue #35 gap A, through the desk: the processors of a restriction
// lifted while another restriction of the person held are told of the
// end when the last one ends, whichever way it ends: the team's lift of
// a restriction, or the denial of an objection to all processing (its
// own restriction ends with it). Until then nobody is told.
func TestLastEndOfARestrictionTellsTheLiftsLeftUntold(t *testing.T) {
	t.Parallel()
	for _, last := range []string{"lift of a restriction", "denial of an objection to all"} {
		t.Run(last, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			proc := f.emailProcessor(t)
			addr := "overlap@example.com"
			first := f.file(t, `{"email":"`+addr+`","type":"restriction"}`)
			if st := f.verify(t, first); st != privacy.RequestCompleted {
				t.Fatalf("restriction: %q", st)
			}
			second := f.file(t, `{"email":"`+addr+`","type":"restriction"}`)
			if last == "denial of an objection to all" {
				second = f.file(t, `{"email":"`+addr+`","type":"objection","scope":"all"}`)
			}
			f.verify(t, second)
			told := func() privacy.Delivery {
				t.Helper()
				d, err := f.store.Delivery(ctx, first, proc.ID)
				if err != nil {
					t.Fatalf("the first restriction's delivery: %v", err)
				}
				return d
			}
			if d := told(); d.State != privacy.RecipientEmailed || d.Lifted {
				t.Fatalf("the processor told of the first restriction: %+v", d)
			}
			if err := f.desk.Lift(ctx, first, "The address is confirmed."); err != nil {
				t.Fatal(err)
			}
			if d := told(); d.Lifted {
				t.Fatal("the processor was told to resume while the second restriction held")
			}
			var err error
			if last == "denial of an objection to all" {
				err = f.desk.Deny(ctx, second, "Compelling legitimate grounds: a pending contract.")
			} else {
				err = f.desk.Lift(ctx, second, "The processing is lawful.")
			}
			if err != nil {
				t.Fatal(err)
			}
			// Told once: one delivery carries the lift's email (the person's
			// address again), any other of the processor is marked lifted.
			emailed := 0
			for _, id := range []string{first, second} {
				d, err := f.store.Delivery(ctx, id, proc.ID)
				if errors.Is(err, privacy.ErrNotFound) && id == second && last == "denial of an objection to all" {
					continue // an objection is told to no processor
				}
				if err != nil {
					t.Fatal(err)
				}
				if !d.Lifted {
					t.Errorf("after the last %s, the processor's delivery of %s is not told of the lift: %+v", last, id, d)
				}
				if d.Identity == addr {
					emailed++
				}
			}
			if emailed != 1 {
				t.Errorf("after the last %s, %d lift emails to the processor told of the first restriction, want 1", last, emailed)
			}
		})
	}
}
