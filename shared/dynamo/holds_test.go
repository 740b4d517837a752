package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A legal hold withholds an erasure while in force and not after its end;
// it is listed, read per subject, and lifted once.
func TestLegalHolds(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	held, ended := privacy.SubjectID("held-subject"), privacy.SubjectID("ended-subject")
	for _, sub := range []privacy.SubjectID{held, ended} {
		inq := privacy.NewInquiry("inq-"+string(sub), sub, privacy.ContactForm{Name: "H", Email: string(sub) + "@example.com",
			Topic: "demo", Message: "m"}, "v", privacy.RequestMeta{ReceivedAt: now.Add(-time.Hour)})
		if err := s.SaveInquiry(ctx, inq); err != nil {
			t.Fatal(err)
		}
	}
	ev := func(sub privacy.SubjectID, name string) privacy.Event {
		return privacy.Event{Subject: sub, Name: name, At: now}
	}
	if err := s.PlaceHold(ctx, privacy.Hold{Subject: held, Reason: "litigation 2026-41", PlacedBy: "dpo", PlacedAt: now}, ev(held, "legal_hold_placed")); err != nil {
		t.Fatal(err)
	}
	if err := s.PlaceHold(ctx, privacy.Hold{Subject: ended, Reason: "audit", PlacedBy: "dpo", PlacedAt: now.Add(-48 * time.Hour),
		Until: now.Add(-time.Hour)}, ev(ended, "legal_hold_placed")); err != nil {
		t.Fatal(err)
	}
	hs, err := s.Holds(ctx)
	if err != nil || len(hs) != 2 {
		t.Fatalf("holds %+v %v", hs, err)
	}
	h, ok, err := s.SubjectHold(ctx, held)
	if err != nil || !ok || h.Reason != "litigation 2026-41" || !h.InForce(now) {
		t.Fatalf("subject hold %+v %v %v", h, ok, err)
	}
	if withheld, n, err := s.Erase(ctx, held, "r1", ev(held, "erased")); err != nil || !withheld || n != 0 {
		t.Fatalf("erasure under a hold in force: withheld %v, %d deleted, %v", withheld, n, err)
	}
	if withheld, n, err := s.Erase(ctx, ended, "r2", ev(ended, "erased")); err != nil || withheld || n == 0 {
		t.Fatalf("erasure after the hold ended: withheld %v, %d deleted, %v", withheld, n, err)
	}
	if err := s.LiftHold(ctx, held, ev(held, "legal_hold_lifted")); err != nil {
		t.Fatal(err)
	}
	if err := s.LiftHold(ctx, held, ev(held, "legal_hold_lifted")); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("a second lift: %v", err)
	}
	if withheld, _, err := s.Erase(ctx, held, "r3", ev(held, "erased")); err != nil || withheld {
		t.Fatalf("erasure after the lift: withheld %v, %v", withheld, err)
	}
}
