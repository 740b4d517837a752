package dynamo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A correction of a field reaches every item holding it; a move takes a
// person's items, ledger, suppression and requests to the new address's
// key, keeps what the new key held already, and finishes when run again.
func TestCorrections(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	h, _ := privacy.NewHasher([]byte("corrections-test-pepper-0123456789"))
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	oldAddr, newAddr := "old@example.com", "new@example.com"
	from, to := h.Subject(oldAddr), h.Subject(newAddr)
	inquiry := func(id string, sub privacy.SubjectID, addr string) {
		t.Helper()
		inq := privacy.NewInquiry(id, sub, privacy.ContactForm{Name: "Mo", Email: addr, Phone: "+1 555 0100", Message: "m"}, "v",
			privacy.RequestMeta{ReceivedAt: at})
		if err := s.SaveInquiry(ctx, inq); err != nil {
			t.Fatal(err)
		}
		// Its ledger entry, as the mailer writes it from the inquiry's record.
		if err := s.RecordInquiry(ctx, inq, at); err != nil {
			t.Fatal(err)
		}
	}
	inquiry("inq-1", from, oldAddr)
	inquiry("inq-2", from, oldAddr)
	inquiry("inq-new", to, newAddr) // the person wrote from the new address before
	if err := s.Suppress(ctx, from, privacy.SuppressObjected, privacy.Event{Subject: from, Name: "objected", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.Restrict(ctx, from, "req-r", privacy.Event{Subject: from, Name: "restricted", At: at}); err != nil {
		t.Fatal(err)
	}
	req := privacy.RightsRequest{ID: "req-fix", Subject: from, Email: oldAddr, Name: "Mo", Type: privacy.RightRectification,
		Regulation: "gdpr", Status: privacy.RequestInProgress, ReceivedAt: at, DueAt: at.AddDate(0, 1, 0)}
	if err := s.CreateRequest(ctx, req, privacy.Event{Subject: from, Name: "request_received", At: at, Ref: req.ID}); err != nil {
		t.Fatal(err)
	}

	if n, err := s.CorrectField(ctx, from, privacy.FieldPhone, "+1 555 0199"); err != nil || n != 2 {
		t.Fatalf("phone corrected on %d items: %v", n, err)
	}
	if n, _ := s.CorrectField(ctx, from, privacy.FieldPhone, "+1 555 0199"); n != 0 {
		t.Fatalf("correcting again changed %d items", n)
	}
	if n, err := s.CorrectField(ctx, from, privacy.FieldName, "Maurice"); err != nil || n != 3 { // two inquiries and the request
		t.Fatalf("name corrected on %d items: %v", n, err)
	}

	held, _ := s.LedgerEntries(ctx, to)
	for range 2 { // the second run finds nothing left to move
		if _, err := s.MoveSubject(ctx, from, to, newAddr, "req-move", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// Under the old key only the forward the links of earlier emails
	// follow to the new one.
	if left, _ := s.SubjectItems(ctx, from); len(left) != 1 || left[0]["kind"].(*types.AttributeValueMemberS).Value != privacy.KindMovedForward {
		t.Fatalf("%d items left under the old key: %v", len(left), left)
	}
	for _, sub := range []privacy.SubjectID{from, to} {
		cur, movedAt, err := s.Forward(ctx, sub)
		if err != nil || cur != to || (sub == from) == movedAt.IsZero() {
			t.Fatalf("Forward(%s) = %s, %v, %v; want the new key, and the move's time for the old", sub, cur, movedAt, err)
		}
	}
	// The ledger under the old key stays, redacted by the correction, with
	// the one entry of the move (twice run) that names it; the copies
	// under the new key are new entries, each naming the entry it copies;
	// all of it verifies.
	old, _ := s.LedgerEntries(ctx, from)
	var moves int
	for _, it := range old {
		switch {
		case it["event"].(*types.AttributeValueMemberS).Value == "moved":
			moves++
		case it[ledger.AttrRedactedBy] == nil || it[ledger.AttrDetail] != nil:
			t.Errorf("old entry not redacted by the move: %v", it)
		}
	}
	if moves != 1 || len(old) < 4 {
		t.Fatalf("under the old key %d entries, %d of the move", len(old), moves)
	}
	now, _ := s.LedgerEntries(ctx, to)
	var copies int
	for _, it := range now {
		if d, _ := it[ledger.AttrDetail].(*types.AttributeValueMemberM); d != nil && d.Value["moved_from"] != nil {
			copies++
		}
	}
	if copies != len(old)-moves || len(now) != len(held)+copies {
		t.Fatalf("under the new key %d entries, %d copies naming the old; want %d copies beside the %d held before",
			len(now), copies, len(old)-moves, len(held))
	}
	all, err := s.ScanLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := ledger.Verify(all, nil, nil, "", time.Now()); len(r.Findings) > 0 {
		t.Fatalf("the ledger after the move: %v", r.Findings)
	}
	items, _ := s.SubjectData(ctx, to)
	var inqs []string
	for _, it := range items {
		if it["kind"] == dynamo.KindInquiry {
			inqs = append(inqs, it["id"].(string))
			if it["email"] != newAddr || (it["id"] != "inq-new" && (it["phone"] != "+1 555 0199" || it["name"] != "Maurice")) {
				t.Errorf("moved inquiry %v", it)
			}
		}
	}
	slices.Sort(inqs)
	if !slices.Equal(inqs, []string{"inq-1", "inq-2", "inq-new"}) {
		t.Fatalf("inquiries under the new key: %v", inqs)
	}
	if by, _ := s.Restriction(ctx, to); !slices.Equal(by, []string{"req-r"}) {
		t.Fatalf("the restriction did not move: %q", by)
	}
	if reasons, _ := s.Suppressions(ctx, to); !slices.Contains(reasons, privacy.SuppressObjected) {
		t.Fatalf("the suppression did not move: %v", reasons)
	}
	if l, _ := s.SubjectLedger(ctx, to); len(l) < 4 {
		t.Fatalf("%d ledger entries under the new key: the history is not whole", len(l))
	}
	got, _ := s.Request(ctx, "req-fix")
	if got.Subject != to || got.Email != newAddr || got.Name != "Maurice" {
		t.Fatalf("the request after the move: %+v", got)
	}
}

// An erasure lifted by a new signup keeps its record (not in force); a
// second erasure puts it in force again from its own time; re-applied
// after a restore, a lifted erasure deletes only what is older than it.
func TestLiftedErasure(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	sub := privacy.SubjectID("subj-lifted")
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	e := func(name privacy.EventName, at time.Time) privacy.Event {
		return privacy.Event{Subject: sub, Name: name, At: at, Ref: string(name)}
	}
	if _, _, err := s.Erase(ctx, sub, "req-1", e("erased", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.LiftSuppressions(ctx, sub, []string{privacy.SuppressErased}, e("suppression_lifted", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if in, _ := s.Suppressions(ctx, sub); len(in) != 0 {
		t.Fatalf("in force after the lift: %v", in)
	}
	er, _ := s.ErasedSubjects(ctx, time.Time{})
	if len(er) != 1 || !er[0].Lifted || !er[0].At.Equal(t0) {
		t.Fatalf("the erasure's record: %+v", er)
	}
	// What was restored from before the erasure goes; what came after stays.
	for _, inq := range []struct {
		id string
		at time.Time
	}{{"before", t0.Add(-time.Hour)}, {"after", t0.Add(2 * time.Hour)}} {
		i := privacy.NewInquiry(inq.id, sub, privacy.ContactForm{Email: "x@example.com", Message: inq.id}, "v",
			privacy.RequestMeta{ReceivedAt: inq.at})
		if err := s.SaveInquiry(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	// A restriction the person asked for after signing up again stays too.
	if err := s.Restrict(ctx, sub, "req-later", e("restricted", t0.Add(2*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.EraseBefore(ctx, sub, er[0].At, "reapply", e("erasure_reapplied", t0.Add(3*time.Hour))); err != nil {
		t.Fatal(err)
	}
	items, _ := s.SubjectData(ctx, sub)
	if len(items) != 1 || items[0]["id"] != "after" {
		t.Fatalf("after the re-applied erasure: %v", items)
	}
	if by, _ := s.Restriction(ctx, sub); !slices.Equal(by, []string{"req-later"}) {
		t.Fatalf("the later restriction went with the re-applied erasure: %q", by)
	}
	if in, _ := s.Suppressions(ctx, sub); len(in) != 0 {
		t.Fatalf("a re-applied lifted erasure suppressed again: %v", in)
	}
	// A new erasure: in force again, from its own time.
	if _, _, err := s.Erase(ctx, sub, "req-2", e("erased", t0.Add(4*time.Hour))); err != nil {
		t.Fatal(err)
	}
	recs, _ := s.SuppressionRecords(ctx, sub)
	if len(recs) != 1 || !recs[0].InForce() || !recs[0].Since.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("after a second erasure: %+v", recs)
	}
}
