package dynamo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
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
		inq.Lookup = h.EmailKeys(addr)
		if err := s.SaveInquiry(ctx, inq); err != nil {
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

	for range 2 { // the second run finds nothing left to move
		if _, err := s.MoveSubject(ctx, from, to, newAddr, h.EmailKeys(newAddr)); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := s.SubjectItems(ctx, from); len(left) != 0 {
		t.Fatalf("%d items left under the old key", len(left))
	}
	if l, _ := s.LedgerEntries(ctx, from); len(l) != 0 {
		t.Fatalf("%d ledger entries left under the old key", len(l))
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
	if by, _ := s.Restriction(ctx, to); by != "req-r" {
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
	if subs, _ := s.SubjectsByEmailKey(ctx, "sha256", h.EmailKeys(newAddr).SHA256); len(subs) == 0 || subs[0] != to {
		t.Fatalf("the digest keys did not follow the address: %v", subs)
	}
}
