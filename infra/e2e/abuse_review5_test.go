package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/forms"
	"github.com/privacykeeper/privacykeeper/shared/limit"
)

// Fifth hostile review (after 5f4db2b): each test asserts what the
// project promises; a failure is the finding.

// policyUpdated is the subject of a material change's notice.
const policyUpdated = "We have updated our privacy policy"

// publishAndNotify publishes a policy version effective today and runs
// the notices function once.
func (s *stack) publishAndNotify(t *testing.T, version string, args ...string) {
	t.Helper()
	today := time.Now().UTC().Format(time.DateOnly)
	if out, err := s.privacyctl(t, append([]string{"policy", "publish", "-version", version, "-effective", today}, args...)...); err != nil {
		t.Fatalf("publish %s: %v %s", version, err, out)
	}
	if resp, out := s.do(t, "POST", "/_local/invoke/NoticesFunction", "application/json", `{}`, nil); resp.StatusCode != 200 {
		t.Fatalf("notices run: %d %s", resp.StatusCode, out)
	}
}

// parentFiling has parent file for child's data as their parent and
// confirm their own address (the only proof a filer gives before the
// team weighs it): the request then awaits the team's review.
func (s *stack) parentFiling(t *testing.T, child, parent string) {
	t.Helper()
	code, f := s.file(t, `{"email":"`+child+`","type":"access","relationship":"parent_or_guardian","parent_email":"`+parent+`"}`)
	if code != 202 {
		t.Fatalf("parent's filing: %d %+v", code, f)
	}
	ack := s.mailTo(t, parent, "Your request "+f.ID+" for your child's data")
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(ack.Body.Text)), "", "", nil); resp.StatusCode != 200 ||
		!strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("the parent confirms their own address: %d %s", resp.StatusCode, out)
	}
}

// R5-1. A stranger unsubscribes anyone through a policy notice. The
// requesters told of a material change include a parent's request awaiting
// the team's review (privacy.VerifiedOpenStatuses); the notice goes to the
// parent's address (RightsRequest.AnswerTo) but its one-click unsubscribe
// link is minted for the request's subject, the CHILD (mailer.notice:
// links().Unsubscribe(n.Subject)). A stranger names the person as their
// "child", confirms only their own address, and waits for the next
// material change: the one-click of the notice they receive unsubscribes
// the person and suppresses the person's marketing and notices, before the
// team has looked at any proof ("an unverified third party changes nothing
// about the person named", DESIGN.md), and the stranger's IP and browser
// go into the person's ledger as the person's own act.
func TestAbuseReview5StrangerAsParentUnsubscribesThePerson(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger := "r5person-"+u+"@example.com", "r5stranger-"+u+"@example.org"
	s.subscribed(t, person)
	s.parentFiling(t, person, stranger)

	s.publishAndNotify(t, "r5-material-"+u, "-material", "-summary", "We keep support chats for 12 months.")
	// The person is told (the notices went out); the "parent" is not, so
	// holds no link of the person's key. (Fixed: a parent's request is told
	// nothing of a policy change.) Should one come, its one-click is tried.
	s.mailTo(t, person, policyUpdated)
	s.idle(t)
	for _, notice := range localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(stranger) && e.Subject == policyUpdated }) {
		t.Errorf("the stranger who filed as the person's parent was sent the policy notice")
		oneClick, _ := notice.ListUnsubscribe()
		resp, out := s.doWith(t, clientFrom("127.0.97.51"), "POST", s.path(t, oneClick), "application/x-www-form-urlencoded",
			url.Values{"List-Unsubscribe": {"One-Click"}}.Encode(), map[string]string{"User-Agent": "StrangerBrowser/" + u})
		t.Logf("the stranger's one-click: %d %s", resp.StatusCode, out)
	}

	sub := s.subscription(t, person)
	if got := str(sub, "status"); got != "confirmed" {
		t.Errorf("the person's subscription is %q after the stranger's one-click (the team never saw a proof)", got)
	}
	pk := "S#" + string(s.hasher.Subject(person))
	for _, it := range s.items(t, "SuppressionTable") {
		if str(it, "pk") == pk {
			t.Errorf("the person's marketing is suppressed (%s) by the stranger's one-click", str(it, "sk"))
		}
	}
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") == pk && strings.Contains(mapStr(it, "detail", "user_agent"), "StrangerBrowser/"+u) {
			t.Errorf("the person's ledger holds the stranger's browser as the person's own %q", str(it, "event"))
		}
	}
}

// R5-2. A suppressed parent is still sent policy notices. The mailer holds
// a notice back when the notice's subject has a suppression in force
// (mailer.Mailer.suppress); a parent's notice names the child's subject,
// so the parent's own unsubscription (or complaint, or bounce) is never
// looked at: the parent's mailbox, which asked for no more, is mailed at
// every material change while the request is open.
func TestAbuseReview5SuppressedParentIsSentNotices(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	child, parent := "r5child-"+u+"@example.com", "r5parent-"+u+"@example.org"
	// The parent was a subscriber and unsubscribed (their own one-click).
	s.subscribed(t, parent)
	unsub := s.newLink(t, parent, unsubLink, nil)
	if resp, out := s.do(t, "POST", s.path(t, unsub), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("the parent unsubscribes: %d %s", resp.StatusCode, out)
	}
	s.parentFiling(t, child, parent)

	// A subscriber's notice shows the notices were made and mailed.
	reader := "r5reader-" + u + "@example.com"
	s.subscribed(t, reader)

	s.publishAndNotify(t, "r5-parent-"+u, "-material", "-summary", "We keep support chats for 12 months.")
	s.mailTo(t, reader, policyUpdated)
	s.idle(t)
	if got := localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(parent) && e.Subject == policyUpdated }); len(got) != 0 {
		t.Errorf("the parent, unsubscribed (suppression in force), was sent %d policy notices", len(got))
	}
}

// R5-3. The contact form's and the signup's per-mailbox budgets are fixed
// UTC-day windows. The fourth review made the rights budgets roll
// (rights.MailboxBudgets), and docs/security.md says "the mailbox budgets
// roll"; forms.DefaultLimits' ContactPerAddress (5 a day: each an
// acknowledgement to the typed address) and SignupPerAddress (3 a day)
// do not: twice each within two seconds across midnight, through the
// store's real counters as forms.Forms applies them (limit.Apply).
func TestAbuseReview5FormsMailboxBudgetsDoubleAcrossMidnight(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	store := dynamo.New(s.DB(), dynamo.Tables{Ops: s.Tables["OpsTable"]})
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	lim := forms.DefaultLimits()
	for _, rule := range []limit.Rule{lim.ContactPerAddress, lim.SignupPerAddress} {
		key := s.hasher.MailboxKey(rule.Name + "-" + localtest.Unique() + "@example.com")
		allowed := 0
		for _, at := range []time.Time{midnight.Add(-time.Second), midnight.Add(time.Second)} {
			for range 2 * rule.Max {
				ex, err := limit.Apply(context.Background(), store, at, limit.Check{Rule: rule, Key: key})
				if err != nil {
					t.Fatal(err)
				}
				if ex == nil {
					allowed++
				}
			}
		}
		t.Logf("%s: uses allowed to one mailbox between %s and %s: %d (budget %d a day)", rule.Name,
			midnight.Add(-time.Second).Format(time.TimeOnly), midnight.Add(time.Second).Format(time.TimeOnly), allowed, rule.Max)
		if allowed > rule.Max {
			t.Errorf("%s: %d emails to one mailbox within two seconds; the budget is %d a day", rule.Name, allowed, rule.Max)
		}
	}
}

// R5-4. The new holder of a left address cannot take an offered topic.
// A link follows the MOVED forward when links.MarketingMintedBefore (its end
// less MarketingValidity, 400 days) is before the move; an add-topic link
// lives 30 days (OfferValidity), so every add-topic link of the old key,
// minted after the move too, counts as minted 370 days before it and is
// "forwarded": the old address's new holder, who subscribed after the move
// with a double opt-in of their own, is answered 409 ("sent to an address
// that is no longer in use") for the 400 days of the forward, and cannot
// give the consent the notice asks for.
func TestAbuseReview5NewHolderOfALeftAddressCannotTakeAnOfferedTopic(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "r5left-"+u+"@example.com", "r5moved-"+u+"@example.org"
	first := s.subscribed(t, old)
	s.moveAddress(t, old, fresh)

	// The old mailbox's new holder subscribes it, after the move.
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+old+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("the new holder's signup: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, s.newLink(t, old, confirmLink, []string{first})), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("the new holder confirms: %d %s", resp.StatusCode, out)
	}

	s.publishAndNotify(t, "r5-offer-"+u, "-summary", "Event invitations are new.", "-new-purpose", "events")
	offer := addTopicLink.FindString(s.mailTo(t, old, "Something new you can choose to receive").Body.Text)
	resp, out := s.do(t, "POST", s.path(t, offer), "", "", nil)
	if resp.StatusCode != 200 {
		t.Errorf("the new holder takes the topic offered to them after the move: %d %s", resp.StatusCode, out)
	}
	if got := strings.Join(ss(s.subscription(t, old), "topics"), ","); !strings.Contains(got, "events") {
		t.Errorf("the new holder's topics: %q, want events added", got)
	}
	if got := strings.Join(ss(s.subscription(t, fresh), "topics"), ","); strings.Contains(got, "events") {
		t.Errorf("the mover's topics: %q: the new holder's consent went to the mover", got)
	}
}
