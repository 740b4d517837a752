package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/sns/snstest"
)

// What a stranger can do by naming someone else (docs/security.md, the
// patterns of ABUSE-CASES.md): each test is one way in, tried end to end
// through the gateway, and checks that the person named loses nothing and
// the stranger gains nothing.

var (
	addressLink = regexp.MustCompile(`http://[^\s"<>]+/v1/rights-requests/[0-9a-f-]+/address\?token=[A-Za-z0-9_-]+`)
	stopLink    = regexp.MustCompile(`http://[^\s"<>]+/v1/rights-requests/[0-9a-f-]+/stop\?token=[A-Za-z0-9_-]+`)
)

// subscribed signs addr up to the newsletter and confirms it; it returns
// the confirmation link.
func (s *stack) subscribed(t *testing.T, addr string) string {
	t.Helper()
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("signup %s: %d %s", addr, resp.StatusCode, out)
	}
	link := confirmLink.FindString(s.mailTo(t, addr, "Please confirm your subscription").Body.Text)
	if resp, out := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm %s: %d %s", addr, resp.StatusCode, out)
	}
	return link
}

// restrictionOf returns the requests whose restriction of addr's
// processing is in force, as stored.
func (s *stack) restrictionOf(t *testing.T, addr string) []string {
	t.Helper()
	pk := "S#" + string(s.hasher.Subject(addr))
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "pk") == pk && str(it, "sk") == "HOLD#RESTRICTION" {
			if by := ss(it, "requests"); len(by) > 0 {
				return by
			}
			return []string{str(it, "request_id")}
		}
	}
	return nil
}

// mailsTo returns every email to addr caught so far.
func (s *stack) mailsTo(t *testing.T, addr string) []localtest.Email {
	t.Helper()
	return localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(addr) })
}

// A restriction belongs to the request that made it: a stranger's request
// naming the person, denied by the team, ends nothing of the person's own
// restriction; nor does the denial of the person's own later objection
// (which restricted too); the person stays restricted while any of their
// restricting requests remain, and each lift is told to them.
func TestAbuseRestrictionBelongsToItsRequest(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger := "restricted-"+u+"@example.com", "stranger-"+u+"@example.net"
	s.subscribed(t, person)

	rid, verify, _ := s.fileAndOpen(t, person, `{"email":"`+person+`","type":"restriction","details":"my address is disputed"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify the restriction: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, person, "Your data is restricted")

	// A stranger files as the person's parent; the team rightly denies it.
	code, f := s.file(t, `{"email":"`+person+`","type":"erasure","relationship":"parent_or_guardian","parent_email":"`+stranger+`"}`)
	if code != 202 || f.ID == "" {
		t.Fatalf("the stranger's filing: %d %+v", code, f)
	}
	if out, err := s.privacyctl(t, "deny", f.ID, "-reason", "We could not confirm that you are the parent or guardian."); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	if by := s.restrictionOf(t, person); len(by) != 1 || by[0] != rid {
		t.Fatalf("after the stranger's denied request the person's restriction is %v, want [%s]", by, rid)
	}
	if res := s.campaign(t, "c1-"+u, "newsletter"); res["skipped_restricted"] != 1 || res["sent"] != 0 {
		t.Fatalf("campaign after the stranger's denial: %v", res)
	}

	// The person's own objection to all processing restricts too (and ends
	// their marketing for good); the team finds compelling grounds and
	// denies it: the first restriction stays, and holds back their
	// messages from sales follow-up.
	oid, overify, _ := s.fileAndOpen(t, person, `{"email":"`+person+`","type":"objection","scope":"all"}`)
	if resp, out := s.do(t, "POST", s.path(t, overify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("verify the objection: %d %s", resp.StatusCode, out)
	}
	if by := s.restrictionOf(t, person); len(by) != 2 {
		t.Fatalf("restricted by %v, want the restriction and the objection", by)
	}
	if out, err := s.privacyctl(t, "deny", oid, "-reason", "Compelling legitimate grounds: an open contract."); err != nil {
		t.Fatalf("deny the objection: %v %s", err, out)
	}
	s.mailTo(t, person, "We cannot carry out your request "+oid)
	if by := s.restrictionOf(t, person); len(by) != 1 || by[0] != rid {
		t.Fatalf("after the objection's denial the person is restricted by %v, want [%s]", by, rid)
	}
	// held sends the person's message and reports whether the team got a
	// notice naming it instead of the message itself.
	held := func(marker string) bool {
		t.Helper()
		resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"P","email":"`+person+`","message":"`+marker+`"}`, nil)
		var inquiry struct{ ID string }
		if resp.StatusCode != 202 || json.Unmarshal([]byte(out), &inquiry) != nil || inquiry.ID == "" {
			t.Fatalf("contact: %d %s", resp.StatusCode, out)
		}
		got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(s.team) && (strings.Contains(e.Body.Text, marker) || strings.Contains(e.Body.Text, inquiry.ID))
		})
		return len(got) == 1 && !strings.Contains(got[0].Body.Text, marker)
	}
	if !held("FIRST-" + u) {
		t.Fatal("after the objection's denial the person's message reached the team for sales follow-up")
	}

	// Only the restriction's own lift ends it, and the person is told.
	if out, err := s.privacyctl(t, "lift", rid, "-reason", "The address is settled."); err != nil {
		t.Fatalf("lift: %v %s", err, out)
	}
	s.mailTo(t, person, "The restriction of your data is lifted (request "+rid)
	if by := s.restrictionOf(t, person); len(by) != 0 {
		t.Fatalf("still restricted by %v after the lift", by)
	}
	if held("SECOND-" + u) {
		t.Fatal("after the lift the person's message was still held back")
	}
}

// An unverified third party changes nothing: a stranger filing as the
// person's parent, or as their agent (an erasure, a restriction, an
// opt-out of sale), neither restricts, suppresses, holds back mail nor
// records anything about the person until the team accepted the proof
// or the person confirmed.
func TestAbuseUnverifiedThirdPartyChangesNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger := "named-"+u+"@example.com", "stranger-"+u+"@example.net"
	s.subscribed(t, person)
	before := len(s.items(t, "SuppressionTable"))

	for _, body := range []string{
		`{"email":"` + person + `","type":"erasure","relationship":"parent_or_guardian","parent_email":"` + stranger + `"}`,
		`{"email":"` + person + `","type":"access","relationship":"parent_or_guardian","parent_email":"` + stranger + `"}`,
		`{"email":"` + person + `","type":"restriction","relationship":"authorized_agent","agent_email":"` + stranger + `"}`,
		`{"email":"` + person + `","type":"opt_out_of_sale","relationship":"authorized_agent","agent_email":"` + stranger + `"}`,
		`{"email":"` + person + `","type":"objection","scope":"all","relationship":"authorized_agent","agent_email":"` + stranger + `"}`,
	} {
		if code, f := s.file(t, body); code != 202 || f.Status == "completed" {
			t.Fatalf("%s: %d %+v", body, code, f)
		}
	}
	// The stranger confirms their own address wherever asked: that proves
	// only that they hold it.
	s.idle(t)
	for _, m := range s.mailsTo(t, stranger) {
		for _, link := range verifyLink.FindAllString(m.Body.Text, -1) {
			s.do(t, "POST", s.path(t, link), "", "", nil)
		}
	}

	if by := s.restrictionOf(t, person); len(by) != 0 {
		t.Fatalf("an unverified third party restricted the person (by %v)", by)
	}
	if n := len(s.items(t, "SuppressionTable")); n != before {
		t.Fatalf("an unverified third party suppressed the person (%d suppressions, %d before)", n, before)
	}
	if sub := s.subscription(t, person); str(sub, "status") != "confirmed" {
		t.Fatalf("the person's subscription is %q", str(sub, "status"))
	}
	pk := "S#" + string(s.hasher.Subject(person))
	for _, it := range s.items(t, "LedgerTable") {
		switch ev := str(it, "event"); {
		case str(it, "pk") != pk:
		case ev == "opt_out_of_sale_recorded", ev == "restricted", ev == "unsubscribed", ev == "erased":
			t.Fatalf("the ledger records %s for the person on a stranger's word", ev)
		}
	}
	// Mail is not held back: the campaign reaches the person, and their
	// message reaches the team as it is.
	if res := s.campaign(t, "c-"+u, "newsletter"); res["sent"] != 1 || res["skipped_restricted"] != 0 {
		t.Fatalf("campaign: %v", res)
	}
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"N","email":"`+person+`","message":"QUOTE-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.Contains(e.Body.Text, "QUOTE-"+u)
	}); len(got) != 1 {
		t.Fatal("the person's message did not reach the team as it is")
	}
}

// Corrections of an address: a stranger asking to move the person's data
// to the stranger's address gets nothing moved unless the new address
// confirmed by its own link, the old address was told and did not stop it,
// and the team approved; the person's own correction is never joined into
// another; moved items carry no pending mail.
func TestAbuseAddressCorrection(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger, fresh := "old-"+u+"@example.com", "taker-"+u+"@example.net", "new-"+u+"@example.com"
	s.subscribed(t, person)

	// The stranger asks to move the person's data to the stranger's address.
	id, verify, _ := s.fileAndOpen(t, person, `{"email":"`+person+`","type":"rectification","field":"email","value":"`+stranger+`"}`)
	ack := s.mailTo(t, person, id)
	if !strings.Contains(ack.Body.Text, stranger) {
		t.Fatalf("the verification email does not show the change asked for:\n%s", ack.Body.Text)
	}
	if resp, out := s.do(t, "GET", s.path(t, verify), "", "", map[string]string{"Accept": "text/html"}); resp.StatusCode != 200 || !strings.Contains(out, stranger) {
		t.Fatalf("the verification page does not show the change asked for: %d", resp.StatusCode)
	}
	// The person's own, different correction is a request of its own.
	code, own := s.file(t, `{"email":"`+person+`","type":"rectification","field":"email","value":"`+fresh+`"}`)
	if code != 202 {
		t.Fatalf("own correction: %d", code)
	}
	ownAck := s.mailTo(t, person, own.ID)
	if !strings.Contains(ownAck.Body.Text, fresh) || strings.Contains(ownAck.Body.Text, stranger) {
		t.Fatalf("the person's own correction was joined into the stranger's:\n%s", ownAck.Body.Text)
	}

	// Tricked, the person confirms the stranger's request. The team cannot
	// approve it before the new address confirmed.
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", id); err == nil || !strings.Contains(out, "409") && !strings.Contains(strings.ToLower(out), "confirm") {
		t.Fatalf("approved before the new address confirmed: %v %s", err, out)
	}
	if sub := s.subscription(t, person); sub == nil {
		t.Fatal("the subscription moved before the new address confirmed")
	}
	// The new address confirms (the stranger holds it); the old address is
	// told, with a link that stops the change, and stops it.
	confirm := addressLink.FindString(s.mailTo(t, stranger, id).Body.Text)
	if confirm == "" {
		t.Fatal("no confirmation link to the new address")
	}
	if resp, out := s.do(t, "POST", s.path(t, confirm), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm the new address: %d %s", resp.StatusCode, out)
	}
	told := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(person) && strings.Contains(e.Subject, id) && stopLink.MatchString(e.Body.Text)
	})
	if len(told) != 1 || !strings.Contains(told[0].Body.Text, stranger) {
		t.Fatalf("the old address was not told of the change: %+v", told)
	}
	if resp, out := s.do(t, "POST", s.path(t, stopLink.FindString(told[0].Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("stop: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", id); err == nil {
		t.Fatalf("approved a stopped correction: %s", out)
	}
	if sub := s.subscription(t, person); sub == nil || s.subscription(t, stranger) != nil {
		t.Fatal("the person's data moved to the stranger's address")
	}

	// The person's own correction: confirmed at both ends, approved; the
	// moved subscription makes no email due at the new address.
	_, ownVerify, _ := statusOf(ownAck)
	if resp, out := s.do(t, "POST", s.path(t, ownVerify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify own: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(s.mailTo(t, fresh, own.ID).Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm own new address: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", own.ID); err != nil {
		t.Fatalf("approve own: %v %s", err, out)
	}
	if s.subscription(t, fresh) == nil {
		t.Fatal("the person's own correction did not move the subscription")
	}
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "pk") == "S#"+string(s.hasher.Subject(fresh)) && str(it, "mail_due") != "" {
			t.Fatalf("a moved item carries pending mail %q", str(it, "mail_due"))
		}
	}
	s.idle(t)
	if got := localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return e.To(fresh) && strings.Contains(e.Subject, "confirm your subscription")
	}); len(got) != 0 {
		t.Fatal("a moved subscription's old email was sent again to the new address")
	}
}

// statusOf returns a request's id and the verification and status links
// of its acknowledgement.
func statusOf(ack localtest.Email) (string, string, string) {
	id := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f-]{27}`).FindString(ack.Subject)
	return id, verifyLink.FindString(ack.Body.Text), statusLink.FindString(ack.Body.Text)
}

// Joins: the person's own filing is never swallowed by a stranger's open
// request naming them (capture), and what an agent receives does not
// depend on whether the person has an open request (oracle).
func TestAbuseOwnFilingIsNeverSwallowed(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, agent := "own-"+u+"@example.com", "agent-"+u+"@example.net"

	// The stranger files first, as the person's agent.
	if code, _ := s.file(t, `{"email":"`+person+`","type":"access","relationship":"authorized_agent","agent_email":"`+agent+`"}`); code != 202 {
		t.Fatalf("agent filing: %d", code)
	}
	// The person's own filing of the same request is a request of its own:
	// its own verification email, naming no agent.
	code, own := s.file(t, `{"email":"`+person+`","type":"access"}`)
	if code != 202 {
		t.Fatalf("own filing: %d", code)
	}
	ack := s.mailTo(t, person, own.ID)
	if strings.Contains(ack.Body.Text, agent) {
		t.Fatalf("the person's own request names the stranger's agent:\n%s", ack.Body.Text)
	}
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(ack.Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, person, "Your data is ready")
	s.idle(t)
	for _, m := range s.mailsTo(t, agent) {
		if strings.Contains(m.Subject, own.ID) || strings.Contains(strings.ToLower(m.Body.Text), "ready") {
			t.Fatalf("the agent learned of the person's own request: %s\n%s", m.Subject, m.Body.Text)
		}
	}

	// Oracle: an agent files for someone with an open request and for
	// someone without; both filings are answered and mailed alike.
	busy, idle, probe := "busy-"+u+"@example.com", "idle-"+u+"@example.com", "probe-"+u+"@example.net"
	if code, _ := s.file(t, `{"email":"`+busy+`","type":"access"}`); code != 202 {
		t.Fatal("busy's own filing")
	}
	s.mailTo(t, busy, "confirm it is you")
	kinds := map[string][]string{}
	for _, target := range []string{busy, idle} {
		before := len(s.mailsTo(t, probe))
		code, f := s.file(t, `{"email":"`+target+`","type":"access","relationship":"authorized_agent","agent_email":"`+probe+`"}`)
		if code != 202 || f.Status != "identity_unverified" {
			t.Fatalf("probe for %s: %d %+v", target, code, f)
		}
		// Wait for the first mail of this filing (a loaded machine is slow
		// to send it; none within 30 s is a difference the check below
		// names), then until the stack is idle, for any other.
		for wait := time.Now().Add(30 * time.Second); len(s.mailsTo(t, probe)) == before && time.Now().Before(wait); {
			time.Sleep(200 * time.Millisecond)
		}
		s.idle(t)
		for _, m := range s.mailsTo(t, probe)[before:] {
			kinds[target] = append(kinds[target], strings.ReplaceAll(m.Subject, f.ID, "ID"))
		}
	}
	if fmt.Sprint(kinds[busy]) != fmt.Sprint(kinds[idle]) {
		t.Fatalf("an agent's mail depends on whether the person has an open request: %v vs %v", kinds[busy], kinds[idle])
	}
}

// Every address a filing mails counts against the per-address limit:
// forty filings naming one address as agent, parent or recipient mail it
// at most the limit, each answered 202 alike; no text a filer chose (the
// named person's address, a name, details) reaches it.
func TestAbuseEveryMailedAddressCounts(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	target := "target-" + u + "@example.net"
	for i := 0; i < 40; i++ {
		named := fmt.Sprintf("named%d-%s@example.com", i, u)
		var body string
		switch i % 3 {
		case 0:
			body = `{"email":"` + named + `","name":"FILER-` + u + `","type":"access","relationship":"authorized_agent","agent_email":"` + target + `","details":"DETAILS-` + u + `"}`
		case 1:
			body = `{"email":"` + named + `","name":"FILER-` + u + `","type":"erasure","relationship":"parent_or_guardian","parent_email":"` + target + `","details":"DETAILS-` + u + `"}`
		default:
			body = `{"email":"` + named + `","name":"FILER-` + u + `","type":"portability","recipient_email":"` + target + `","details":"DETAILS-` + u + `"}`
		}
		c := clientFrom(fmt.Sprintf("127.0.%d.%d", 60+i/8, 10+i%8))
		resp, out := s.doWith(t, c, "POST", "/v1/rights-requests", "application/json", body, nil)
		if resp.StatusCode != 202 {
			t.Fatalf("filing %d: %d %s", i, resp.StatusCode, out)
		}
	}
	s.idle(t)
	got := s.mailsTo(t, target)
	if len(got) > 10 {
		t.Fatalf("%d emails to one address from 40 filings naming it (limit 10 a day)", len(got))
	}
	for _, m := range got {
		for _, chosen := range []string{"@example.com", "FILER-" + u, "DETAILS-" + u} {
			if strings.Contains(m.Body.Text, chosen) || strings.Contains(m.Body.HTML, chosen) || strings.Contains(m.Subject, chosen) {
				t.Fatalf("filer-chosen text %q reached an unverified address:\n%s\n%s", chosen, m.Subject, m.Body.Text)
			}
		}
	}
	// The person's own verification email names the agent who filed.
	named := "named0-" + u + "@example.com"
	if ack := s.mailTo(t, named, "confirm it is you"); !strings.Contains(ack.Body.Text, target) {
		t.Fatalf("the person's verification email does not name the agent:\n%s", ack.Body.Text)
	}
}

// An old confirmation link of a signup already confirmed lifts nothing:
// the person complained since, and re-posting the link keeps them
// suppressed (only a new opt-in, moving a signup from pending to
// confirmed, lifts a complaint).
func TestAbuseOldConfirmationLinkLiftsNoComplaint(t *testing.T) {
	t.Parallel()
	signer := snstest.New(t)
	standIn := newSNSStandIn(t, signer)
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"SNS_ENDPOINT": standIn.URL}, nil)
	u := localtest.Unique()
	person := "complainer-" + u + "@example.com"
	link := s.subscribed(t, person)

	m := signer.Notification(t, `{"notificationType":"Complaint","mail":{"messageId":"m-`+u+`"},"complaint":{"complainedRecipients":[{"emailAddress":"`+person+`"}]}}`, "2")
	m.TopicArn = s.feedbackTopic(t)
	signer.Sign(t, &m, "2")
	raw, _ := json.Marshal(m)
	if resp, out := s.do(t, "POST", "/v1/ses-notifications", "text/plain; charset=UTF-8", string(raw),
		map[string]string{"x-amz-sns-message-type": "Notification"}); resp.StatusCode != 200 {
		t.Fatalf("complaint: %d %s", resp.StatusCode, out)
	}
	complained := func() bool {
		for _, it := range s.items(t, "SuppressionTable") {
			if str(it, "pk") == "S#"+string(s.hasher.Subject(person)) && str(it, "sk") == "complained" {
				return true
			}
		}
		return false
	}
	if !complained() {
		t.Fatal("the complaint did not suppress")
	}
	s.do(t, "POST", s.path(t, link), "", "", nil)
	if !complained() {
		t.Fatal("re-posting an old confirmation link lifted the complaint")
	}
	if res := s.campaign(t, "c-"+u, "newsletter"); res["sent"] != 0 {
		t.Fatalf("campaign after the replayed link: %v", res)
	}
}

// An export holds the person's data and nobody else's: no staff identity
// (the team's views and decisions), no stranger's IP address or browser
// (their filings naming the person), no stranger's address.
func TestAbuseExportHoldsOnlyThePersonsData(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger := "exported-"+u+"@example.com", "claims-"+u+"@example.net"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"P","email":"`+person+`","message":"hello"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	strangerUA := "StrangerBrowser/" + u
	resp, out := s.doWith(t, clientFrom("127.0.0.93"), "POST", "/v1/rights-requests", "application/json",
		`{"email":"`+person+`","type":"erasure","relationship":"parent_or_guardian","parent_email":"`+stranger+`"}`,
		map[string]string{"User-Agent": strangerUA})
	if resp.StatusCode != 202 {
		t.Fatalf("stranger's filing: %d %s", resp.StatusCode, out)
	}
	var f filedBody
	_ = json.Unmarshal([]byte(out), &f)
	if out, err := s.privacyctl(t, "person", "-email", person); err != nil {
		t.Fatalf("person: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "deny", f.ID, "-reason", "Not the parent."); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	raw, _ := s.export(t, person)
	for _, leak := range []string{"arn:aws", "127.0.0.93", strangerUA, stranger, "dpo"} {
		if strings.Contains(raw, leak) {
			t.Errorf("the person's export contains %q", leak)
		}
	}
}
