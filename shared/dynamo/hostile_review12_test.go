package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Review 12 (hostile: a false alarm of misdated on an honest ledger). A
// move copies every entry of the old key but its own record and those it
// redacted already, an erasure's redacted entries included ("an erasure's
// redaction stays as it is": the original is left redacted by the
// erasure, not by the move). The copy is filed on the move's day with the
// original's time; verify's exception for a move's copy
// (movedOriginals) knows only the originals redacted by a move, so every
// copy of an entry an earlier erasure redacted is named misdated. A
// person erased who later asked anew and then corrected their address
// makes verify fail on a ledger nobody touched. Fails today: one misdated
// finding per erased entry copied.
func TestHostileReview12ErasedThenMovedLedgerVerifies(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	from, to := privacy.SubjectID("subj-r12-erased-old"), privacy.SubjectID("subj-r12-erased-new")
	day1 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := s.RecordEvent(ctx, privacy.Event{Subject: from, Name: "subscription_confirmed", At: day1, Ref: "sub-r12",
		Detail: map[string]string{"consent_text": "v3"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Erase(ctx, from, "erase-r12", privacy.Event{Subject: from, Name: "erased", At: day1.Add(time.Hour),
		Ref: "erase-r12", LegalBasis: privacy.BasisLegalObligation}); err != nil {
		t.Fatal(err)
	}
	// Two days later the person (back since) corrects their address.
	day3 := day1.AddDate(0, 0, 2)
	if _, err := s.MoveSubject(ctx, from, to, "new-r12@example.com", "corr-r12", day3); err != nil {
		t.Fatal(err)
	}
	all, err := s.ScanLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ledger.Verify(all, nil, nil, "", day3.Add(time.Hour)).Findings {
		t.Errorf("an honest erasure then move: %s", f)
	}
}
