package e2e

import (
	"strings"
	"testing"
	"time"

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

// R6-1 (fixed). Anyone who holds one of the person's marketing emails
// with its headers (forwarded as an attachment, the mailbox the person
// left) grew the person's ledger, and so their export, without bound, by
// email. The mailto: address of List-Unsubscribe is a bearer token that
// lives 400 days, and anyone can send mail to it: every message to it is a
// fresh invocation of UnsubscribeMailFunction, at a fresh time, and
// dynamo.Store.Unsubscribe wrote its ledger entry (Suppress: key
// <time>#unsubscribed#) whether or not anything changed; now it writes
// nothing once the person is suppressed.
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
	_, rcpt := s.unsubscribeAddresses(t, person, "News r6l-")
	otherLink, _ := s.unsubscribeAddresses(t, other, "News r6l-")

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

// R6-2. The team's question takes away the old address's stop. A
// correction of the address is the takeover path: the person, tricked,
// confirms a stranger's filing that moves their data to the stranger's
// address; the new address confirms; the old address is told, with the
// link that stops the change "the team has not applied yet" (docs/api.md,
// rights.Handlers.Stop). The stop moves the request from awaiting_review
// only. Once the team asks a question about the request (Desk.Ask takes
// awaiting_review: a stranger's filing can invite one with vague details),
// it is waiting_for_information, and the person's stop is refused 409
// too_late, "our privacy team has already decided it": nothing was decided,
// nothing stops, and the person is told it is too late.
func TestAbuseReview6StopRefusedWhileTheTeamWaitsForAnAnswer(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger := "r6-stop-"+u+"@example.com", "r6-taker-"+u+"@example.net"
	s.subscribed(t, person)

	id, verify, _ := s.fileAndOpen(t, person, `{"email":"`+person+`","type":"rectification","field":"email","value":"`+stranger+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify (the person, tricked): %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(s.mailTo(t, stranger, id).Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("the stranger confirms the new address: %d %s", resp.StatusCode, out)
	}
	told := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(person) && strings.Contains(e.Subject, id) && stopLink.MatchString(e.Body.Text)
	})
	if len(told) != 1 {
		t.Fatalf("%d emails with a stop link to the old address", len(told))
	}
	stop := s.path(t, stopLink.FindString(told[0].Body.Text))

	// The team asks before deciding anything.
	if out, err := s.privacyctl(t, "ask", id, "-question", "Why does the address change?"); err != nil {
		t.Fatalf("ask: %v %s", err, out)
	}
	if st := s.request(t, id)["status"]; st != "waiting_for_information" {
		t.Fatalf("status after the question: %s", st)
	}

	resp, out := s.do(t, "POST", stop, "", "", nil)
	st := s.request(t, id)["status"]
	t.Logf("the old address stops the change while the team waits for an answer: %d %s; the request is %s", resp.StatusCode, out, st)
	if resp.StatusCode != 200 || st != "cancelled" {
		t.Errorf("the old address could not stop a change nobody has decided: %d %s (request %s)", resp.StatusCode, out, st)
	}
}

// R6-3, ruled: the mailto: address of an email sent in the hour before the
// person moved acts on the address they left, not on them. A mailbox token
// keeps its end in hours, rounded up (token.SignMailbox: 64 characters
// leave no room for seconds), so one minted in the hour before a move
// cannot be told from one minted in the hour after it, by the left
// mailbox's next holder; following the forward for it would let that
// holder's mail stop the mover's (the fourth review's R4-1). It errs toward
// its own key, and the https link of the very same email (whole seconds)
// does follow the forward and stop the mover's mail: the opt-out in that
// email works (docs/security.md, "Left open").
func TestAbuseReview6MailtoSentBeforeAMoveStopsNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "r6-mover-"+u+"@example.com", "r6-moved-"+u+"@example.org"
	s.subscribed(t, old)
	if res := s.campaign(t, "r6m-"+u, "newsletter"); res["sent"] != 1 {
		t.Fatalf("campaign: %v", res)
	}
	link, rcpt := s.unsubscribeAddresses(t, old, "News r6m-")
	// Seconds later the person corrects their address: the subscription
	// moves, and a forward is left for the links of emails sent before.
	s.moveAddress(t, old, fresh)

	// The mailto: of that email, in the move's hour: its own key only.
	res := s.deliver(t, sesInbound(t, "PASS", rcpt))
	t.Logf("the mailto: of an email sent just before the move: %v; the mover's subscription is %q", res, str(s.subscription(t, fresh), "status"))
	// (Not asserted: a campaign and a move that straddle a full hour make
	// the token certainly older than the move, and then it is followed.)
	if res["unsubscribed"] != 1 {
		t.Errorf("the mailto: was not handled: %v", res)
	}
	// The https link of the same email stops the mover's mail.
	if resp, out := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("one-click: %d %s", resp.StatusCode, out)
	}
	if st := str(s.subscription(t, fresh), "status"); st != "unsubscribed" {
		t.Errorf("the same email's https one-click left the mover %q", st)
	}
}
