package e2e

import (
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Sixth hostile review (after 441c775: unsubscribe by email, the team's
// question and its answer link, campaigns in the subscriber's language,
// the legal basis as policy data, the erasure plan, the forward's
// mint-time comparison). Each test asserts what the project promises; a
// failure is the finding.

// ledgerCount counts addr's ledger entries named event.
func (s *stack) ledgerCount(t *testing.T, addr, event string) int {
	t.Helper()
	pk := "S#" + string(s.hasher.Subject(addr))
	n := 0
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") == pk && str(it, "event") == event {
			n++
		}
	}
	return n
}

// R6-1. Anyone who holds one of the person's marketing emails (a forward,
// the mailbox the person left) grows the person's ledger, and so their
// export, without bound, by email. The mailto: address of List-Unsubscribe
// is a bearer token that lives 400 days, and anyone can send mail to it:
// every message to it is a fresh invocation of UnsubscribeMailFunction, at
// a fresh time, and dynamo.Store.Unsubscribe writes its ledger entry
// (Suppress: key <time>#unsubscribed#) whether or not anything changed.
// The first message stops the mail; every later one, from whoever, adds
// "unsubscribed" to the person's consent history (kept for the ledger's
// years, listed in their copy). The project's own rule for this pattern
// (second review, "ledger growth": the agent's link posted again and
// again) is that a repeat is a no-op that writes nothing. The one-click
// link (POST /v1/unsubscribe) shares the store call and does the same.
func TestAbuseReview6RepeatedUnsubscribeMailGrowsPersonsLedger(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, other := "r6-ledger-"+u+"@example.com", "r6-other-"+u+"@example.com"
	s.subscribed(t, person)
	s.subscribed(t, other)
	if res := s.campaign(t, "r6l-"+u, "newsletter"); res["sent"] != 2 {
		t.Fatalf("campaign: %v", res)
	}
	link, mailto := s.mailTo(t, person, "News r6l-").ListUnsubscribe()
	rcpt, ok := strings.CutPrefix(mailto, "mailto:")
	if !ok || link == "" {
		t.Fatalf("List-Unsubscribe: %q %q", link, mailto)
	}
	otherLink, _ := s.mailTo(t, other, "News r6l-").ListUnsubscribe()

	// The stranger's messages to the address they read in a forwarded
	// email: one each, as SES would deliver them.
	const n = 5
	for i := 0; i < n; i++ {
		if res := s.deliver(t, sesInbound(t, "PASS", rcpt)); res["unsubscribed"] != 1 {
			t.Fatalf("message %d: %v", i, res)
		}
	}
	if st := str(s.subscription(t, person), "status"); st != "unsubscribed" {
		t.Fatalf("the person is %s", st)
	}
	mailEntries := s.ledgerCount(t, person, "unsubscribed")

	// The same through the one-click link (the store call they share).
	for i := 0; i < n; i++ {
		if resp, out := s.do(t, "POST", s.path(t, otherLink), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", nil); resp.StatusCode != 200 {
			t.Fatalf("one-click %d: %d %s", i, resp.StatusCode, out)
		}
	}
	linkEntries := s.ledgerCount(t, other, "unsubscribed")

	raw, _ := s.export(t, person)
	t.Logf("%d messages to one mailto: address: %d \"unsubscribed\" entries in the person's ledger, %d in their export; "+
		"%d one-click posts: %d entries", n, mailEntries, strings.Count(raw, `"unsubscribed"`), n, linkEntries)
	if mailEntries != 1 {
		t.Errorf("%d messages to the person's mailto: address wrote %d unsubscribed entries into their ledger, want 1", n, mailEntries)
	}
	if linkEntries != 1 {
		t.Errorf("%d posts of one one-click link wrote %d unsubscribed entries into the ledger, want 1", n, linkEntries)
	}
}
