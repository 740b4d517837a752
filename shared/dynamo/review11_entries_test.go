package dynamo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// An erasure that runs before the mailer has written the entries of the
// person's inquiry and site rights request (their stream records still
// on their way, or given up before a replay) writes them first and
// redacts them with the rest: the mailer's late write then finds them and
// puts nothing back, no detail of an erased person's request (the
// recipient's keyed hash) among it. Before, the erasure found no entry
// and the late write put the request's whole detail after the redaction
// (review 11).
func TestErasureCompletesTheEntriesTheMailerHasNotWritten(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	h, err := privacy.NewHasher([]byte(strings.Repeat("p", 32)))
	if err != nil {
		t.Fatal(err)
	}
	sub := privacy.SubjectID("subj-r11-erased")
	at := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	inq := privacy.NewInquiry("inq-r11", sub, privacy.ContactForm{Email: "e@example.com", Message: "hi"}, "v", privacy.RequestMeta{ReceivedAt: at})
	if err := s.SaveInquiry(ctx, inq); err != nil {
		t.Fatal(err)
	}
	req := privacy.RightsRequest{ID: "req-r11", Subject: sub, Email: "e@example.com", Type: privacy.RightAccess,
		RecipientEmail: "friend@example.com", Status: privacy.RequestIdentityUnverified, ReceivedAt: at, ReceivedPolicyVersion: "v"}
	if !req.ReceivedFromStream() {
		t.Fatal("the request is not one whose entry the mailer writes")
	}
	if err := s.CreateRequest(ctx, req, privacy.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Erase(ctx, sub, "erase-r11", privacy.Event{Subject: sub, Name: "erased", At: at.Add(time.Hour), Ref: "erase-r11"}); err != nil {
		t.Fatal(err)
	}
	// The mailer's writes, late.
	if err := s.RecordInquiry(ctx, inq, at.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEntry(ctx, privacy.RequestReceived(req, h), at.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	entries, err := s.LedgerEntries(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, it := range entries {
		ev := str(it, "event")
		seen[ev]++
		if ev != "inquiry_received" && ev != "request_received" {
			continue
		}
		if _, ok := it[ledger.AttrDetail]; ok {
			t.Errorf("%s carries a detail after the person's erasure: %v", ev, it[ledger.AttrDetail])
		}
		if str(it, ledger.AttrRedactedBy) != "erase-r11" {
			t.Errorf("%s is not redacted by the erasure (redacted_by %q)", ev, str(it, ledger.AttrRedactedBy))
		}
	}
	if seen["inquiry_received"] != 1 || seen["request_received"] != 1 {
		t.Errorf("entries after the erasure and the late writes: %v, want one inquiry_received and one request_received", seen)
	}
}

func str(it map[string]types.AttributeValue, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
