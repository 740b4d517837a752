package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// The second hostile review of #30 (items 1-7): each test states what the
// project promises (DESIGN.md "Acting for someone else", ABUSE-CASES.md)
// and failed on the first round of fixes where a stranger who knows
// someone's address could still break it (docs/security.md).

var exportLink = regexp.MustCompile(`http://[^\s"<>]+/export\?token=[A-Za-z0-9_-]+`)

// H1. No text a filer chose reaches an address nobody verified: a
// stranger files a rectification of the person's name (or company) and
// writes their own 200 characters into "value"; the company's
// verification email to the person (who never verified anything) shows it.
func TestAbuseCorrectionValueIsFilerTextToUnverifiedAddress(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim := "victim-" + u + "@example.com"
	lure := "URGENT " + u + " your account is locked. Call +1 555 0100 or visit evil.example/unlock"
	for _, field := range []string{"name", "company"} {
		code, f := s.file(t, `{"email":"`+victim+`","type":"rectification","field":"`+field+`","value":"`+lure+`"}`)
		if code != 202 || f.ID == "" {
			t.Fatalf("filing: %d %+v", code, f)
		}
		ack := s.mailTo(t, victim, f.ID)
		if strings.Contains(ack.Body.Text, lure) || strings.Contains(ack.Body.HTML, lure) {
			t.Errorf("field %s: the stranger's text reached the unverified address in the company's email:\nSubject: %s\n%s",
				field, ack.Subject, ack.Body.Text)
		}
	}
}

// H2. Every address a filing mails counts against the per-address
// limit, and past it the filing is answered 202 and dropped. So a stranger
// who names the person ten times (as agent, parent, recipient or new
// address: whatever spends the person's budget) makes the person's OWN
// request that day vanish: answered 202 with an id and a deadline,
// nothing stored, no email, no clock running.
func TestAbuseStrangerBurnsBudgetAndPersonsOwnRequestVanishes(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim := "victim-" + u + "@example.com"
	for i := 0; i < 10; i++ {
		named := fmt.Sprintf("named%d-%s@example.net", i, u)
		body := `{"email":"` + named + `","type":"access","relationship":"authorized_agent","agent_email":"` + victim + `"}`
		resp, out := s.doWith(t, clientFrom(fmt.Sprintf("127.0.71.%d", 10+i)), "POST", "/v1/rights-requests", "application/json", body, nil)
		if resp.StatusCode != 202 {
			t.Fatalf("stranger's filing %d: %d %s", i, resp.StatusCode, out)
		}
	}
	// The person files their own erasure, from their own network.
	resp, out := s.doWith(t, clientFrom("127.0.72.1"), "POST", "/v1/rights-requests", "application/json",
		`{"email":"`+victim+`","type":"erasure"}`, nil)
	var f filedBody
	_ = json.Unmarshal([]byte(out), &f)
	t.Logf("the person's own erasure was answered %d %s", resp.StatusCode, out)
	if resp.StatusCode != 202 || f.ID == "" {
		t.Fatalf("own filing: %d %s", resp.StatusCode, out)
	}
	s.idle(t)
	stored := false
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "id") == f.ID || (str(it, "subject") == string(s.hasher.Subject(victim)) && str(it, "type") == "erasure") {
			stored = true
		}
	}
	acks := localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return e.To(victim) && strings.Contains(e.Subject, "confirm it is you")
	})
	if !stored || len(acks) == 0 {
		t.Errorf("the person's own erasure (answered 202, id %s, due %s) was dropped: stored=%v, acknowledgements=%d; "+
			"a stranger spent the person's budget with 10 filings naming them as agent", f.ID, f.DueAt, stored, len(acks))
	}
}

// H3. Joins only of the person's own identical filings: a stranger files
// a plain request under the person's address first (a CCPA access request,
// in German, with their own details); the person's own GDPR access request
// then joins it silently. The person's only email is the stranger's
// (German) one; the request they verify is the stranger's, due in 45 days
// where the person was promised one month.
func TestAbuseJoinCapturesPersonsFilingWithStrangersTerms(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim := "victim-" + u + "@example.com"
	resp, out := s.doWith(t, clientFrom("127.0.73.1"), "POST", "/v1/rights-requests", "application/json",
		`{"email":"`+victim+`","type":"access","regulation":"ccpa","name":"Mallory","details":"STRANGER-`+u+`"}`,
		map[string]string{"Accept-Language": "de"})
	if resp.StatusCode != 202 {
		t.Fatalf("stranger: %d %s", resp.StatusCode, out)
	}
	code, own := s.file(t, `{"email":"`+victim+`","type":"access"}`)
	if code != 202 {
		t.Fatalf("own: %d", code)
	}
	promised, _ := time.Parse(time.RFC3339, own.DueAt)
	s.idle(t)
	var reqs []string
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "subject") == string(s.hasher.Subject(victim)) {
			reqs = append(reqs, fmt.Sprintf("%s regulation=%s lang=%s due=%s details=%q", str(it, "id"), str(it, "regulation"),
				str(it, "lang"), str(it, "due_at"), str(it, "details")))
		}
	}
	mails := s.mailsTo(t, victim)
	var subjects []string
	for _, m := range mails {
		subjects = append(subjects, m.Subject)
	}
	t.Logf("the person was promised due %s; stored for the person: %v; emails to the person: %q", own.DueAt, reqs, subjects)
	if len(reqs) != 2 {
		t.Errorf("the person's own GDPR filing (promised due %s) was joined into the stranger's CCPA filing: %v",
			promised.Format("2006-01-02"), reqs)
	}
}

// H4. A new address is confirmed by its own link before data moves to
// it: but moving a stranger's record ONTO an address that already holds a
// person's data merges them, and every link the stranger held for their
// own requests (an access export, valid 7 days, built when opened from
// the request's current subject) now reads the person's data. The person
// clicked "confirm this address" on an email that says only that
// "someone asked to move the data we hold of them to this address".
func TestAbuseMergeOntoExistingAddressLeaksItsData(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim, attacker := "victim-"+u+"@example.com", "attacker-"+u+"@example.net"
	secret := "VICTIM-SECRET-" + u
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json",
		`{"name":"Victoria","email":"`+victim+`","phone":"+44 20 7946 0000","message":"`+secret+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("victim's contact: %d %s", resp.StatusCode, out)
	}
	s.subscribed(t, victim)

	// The attacker's own access request: their export link.
	_, verify, _ := s.fileAndOpen(t, attacker, `{"email":"`+attacker+`","type":"access"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify attacker access: %d %s", resp.StatusCode, out)
	}
	link := exportLink.FindString(s.mailTo(t, attacker, "Your data is ready").Body.Text)
	if resp, out := s.do(t, "GET", s.path(t, link), "", "", nil); resp.StatusCode != 200 || strings.Contains(out, secret) {
		t.Fatalf("attacker's export before: %d (secret present: %v)", resp.StatusCode, strings.Contains(out, secret))
	}

	// The attacker "corrects" their own address to the victim's.
	id, v2, _ := s.fileAndOpen(t, attacker, `{"email":"`+attacker+`","type":"rectification","field":"email","value":"`+victim+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, v2), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify rectification: %d %s", resp.StatusCode, out)
	}
	ask := s.mailTo(t, victim, "Please confirm this address (request "+id)
	t.Logf("what the victim is asked:\n%s", ask.Body.Text)
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(ask.Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("victim confirms: %d %s", resp.StatusCode, out)
	}
	review := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.Contains(e.Body.Text, id) && strings.Contains(e.Body.Text, "new address confirmed")
	})
	if len(review) == 1 {
		t.Logf("what the team reviews:\n%s", review[0].Body.Text)
	}
	// The team cannot apply it: the address holds someone's data, and a
	// correction never merges two people's records.
	if out, err := s.privacyctl(t, "approve", id); err == nil || !strings.Contains(out, "already holds data") {
		t.Errorf("a move onto an address holding someone's data was approved: %v %s", err, out)
	}
	// The attacker opens their OLD export link again.
	resp, out := s.do(t, "GET", s.path(t, link), "", "", nil)
	if resp.StatusCode == 200 && strings.Contains(out, secret) {
		t.Errorf("the attacker's own old export link now serves the victim's data (%d bytes, holds %q, the victim's phone: %v)",
			len(out), secret, strings.Contains(out, "7946"))
	}
}

// H5. An export holds the person's data, nobody else's: a stranger's
// parent filing, confirmed by the stranger at their own address, puts the
// stranger's IP and browser into the person's ledger (request_verified);
// a stranger's newsletter signup naming the person does the same
// (subscribe_requested); a stranger's contact form naming the person puts
// their IP and browser into the person's records.
func TestAbuseExportHoldsStrangersNetworkData(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, stranger := "exported-"+u+"@example.com", "claims-"+u+"@example.net"
	strangerIP := "127.0.74.9"
	c := clientFrom(strangerIP)
	ua := map[string]string{"User-Agent": "StrangerBrowser/" + u}

	resp, out := s.doWith(t, c, "POST", "/v1/rights-requests", "application/json",
		`{"email":"`+person+`","type":"access","relationship":"parent_or_guardian","parent_email":"`+stranger+`"}`, ua)
	if resp.StatusCode != 202 {
		t.Fatalf("parent filing: %d %s", resp.StatusCode, out)
	}
	var f filedBody
	_ = json.Unmarshal([]byte(out), &f)
	ack := s.mailTo(t, stranger, f.ID)
	if resp, out := s.doWith(t, c, "POST", s.path(t, verifyLink.FindString(ack.Body.Text)), "", "", ua); resp.StatusCode != 200 {
		t.Fatalf("stranger confirms own address: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "deny", f.ID, "-reason", "Not the parent."); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	raw, _ := s.export(t, person)
	for _, leak := range []string{strangerIP, "StrangerBrowser/" + u} {
		if strings.Contains(raw, leak) {
			i := strings.Index(raw, leak)
			t.Errorf("parent path: the person's export holds the stranger's %q: …%s…", leak, raw[max(0, i-300):min(len(raw), i+80)])
		}
	}

	// Signup and contact form by the stranger naming a second person.
	other := "other-" + u + "@example.com"
	ua2 := map[string]string{"User-Agent": "StrangerSignup/" + u}
	if resp, out := s.doWith(t, clientFrom("127.0.74.10"), "POST", "/v1/subscriptions", "application/json",
		`{"email":"`+other+`","topics":["newsletter"],"consent":true}`, ua2); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.doWith(t, clientFrom("127.0.74.11"), "POST", "/v1/contact", "application/json",
		`{"name":"Mallory `+u+`","email":"`+other+`","message":"STRANGER-TEXT-`+u+`"}`, ua2); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	raw2, _ := s.export(t, other)
	// (What was written under the person's address, the message and the
	// name, is in their copy: it is what is held about that address. Where
	// and with what it was sent is not.)
	for _, leak := range []string{"127.0.74.10", "127.0.74.11", "StrangerSignup/" + u} {
		if strings.Contains(raw2, leak) {
			t.Errorf("signup/contact path: the person's export holds the stranger's %q", leak)
		}
	}
}

// H6. The per-address limit counts subject hashes of normalised
// addresses; "v+1@…", "v+2@…" are one mailbox (sub-addressing at
// every large provider) and each has a budget of its own. With the
// correction value above, a stranger sends one inbox as many company
// emails with their own text as they have source addresses (10 an hour
// each).
func TestAbuseSubaddressesMultiplyTheMailboxBudget(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	local, domain := "inbox-"+u, "example.com"
	for i := 0; i < 15; i++ {
		addr := fmt.Sprintf("%s+%d@%s", local, i, domain)
		body := `{"email":"` + addr + `","type":"rectification","field":"name","value":"Call +1 555 0100 now ` + u + `"}`
		resp, out := s.doWith(t, clientFrom(fmt.Sprintf("127.0.75.%d", 10+i)), "POST", "/v1/rights-requests", "application/json", body, nil)
		if resp.StatusCode != 202 {
			t.Fatalf("filing %d: %d %s", i, resp.StatusCode, out)
		}
	}
	s.idle(t)
	got := localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		for _, to := range e.Destination.To {
			if strings.HasPrefix(to, local+"+") && strings.HasSuffix(to, "@"+domain) {
				return true
			}
		}
		return false
	})
	if len(got) > 10 {
		t.Errorf("%d company emails carrying the stranger's text reached the one mailbox %s@%s (limit 10 a day)", len(got), local, domain)
	}
}

// H7 (held?). Links: a token of one purpose or request acts on no other
// route or request, and an old link acts once.
func TestAbuseLinksCrossRoutesAndRequests(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, agent := "linked-"+u+"@example.com", "agent-"+u+"@example.net"
	code, fa := s.file(t, `{"email":"`+person+`","type":"access","relationship":"authorized_agent","agent_email":"`+agent+`"}`)
	if code != 202 {
		t.Fatal("agent filing")
	}
	agentLink := addressLink.FindString(s.mailTo(t, agent, fa.ID).Body.Text)
	ack := s.mailTo(t, person, fa.ID)
	verify := verifyLink.FindString(ack.Body.Text)
	status := statusLink.FindString(ack.Body.Text)
	_, other := s.file(t, `{"email":"`+person+`","type":"erasure"}`)
	tok := func(link string) string { return link[strings.Index(link, "?token=")+7:] }
	tries := map[string]string{
		"agent token on /verify":          "/v1/rights-requests/" + fa.ID + "/verify?token=" + tok(agentLink),
		"agent token on /stop":            "/v1/rights-requests/" + fa.ID + "/stop?token=" + tok(agentLink),
		"verify token on /address":        "/v1/rights-requests/" + fa.ID + "/address?token=" + tok(verify),
		"status token on /stop":           "/v1/rights-requests/" + fa.ID + "/stop?token=" + tok(status),
		"agent token on another request":  "/v1/rights-requests/" + other.ID + "/address?token=" + tok(agentLink),
		"verify token on another request": "/v1/rights-requests/" + other.ID + "/verify?token=" + tok(verify),
		"status token on export":          "/v1/rights-requests/" + fa.ID + "/export?token=" + tok(status),
	}
	for name, p := range tries {
		method := "POST"
		if strings.HasSuffix(name, "export") {
			method = "GET"
		}
		if resp, out := s.do(t, method, p, "", "", nil); resp.StatusCode < 400 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, out)
		}
	}
	// The agent confirms twice; the person verifies twice.
	for i := 0; i < 2; i++ {
		if resp, out := s.do(t, "POST", s.path(t, agentLink), "", "", nil); resp.StatusCode != 200 {
			t.Errorf("agent confirm %d: %d %s", i, resp.StatusCode, out)
		}
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
			t.Errorf("verify %d: %d %s", i, resp.StatusCode, out)
		}
	}
	s.idle(t)
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return e.To(person) && strings.Contains(e.Subject, "Your data is ready")
	})); n != 1 {
		t.Errorf("%d 'ready' emails after verifying twice", n)
	}
	for _, m := range s.mailsTo(t, agent) {
		if exportLink.MatchString(m.Body.Text) || verifyLink.MatchString(m.Body.Text) {
			t.Errorf("the agent got a link of the person's: %s", m.Subject)
		}
	}
}

// H8. An old link acts once: but the agent's address link, which a
// stranger gets by naming themselves the person's agent, writes a new
// entry into the PERSON's ledger every time it is posted (ConfirmAgent's
// condition is only attribute_exists(agent_email)); nothing limits the
// route. Each entry is kept three years and is in every export of the
// person: a stranger grows the person's partition and export at will
// (an export is one Lambda response, at most 6 MB).
func TestAbuseAgentLinkReplayGrowsPersonsLedger(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, agent := "ledger-"+u+"@example.com", "agent-"+u+"@example.net"
	code, fa := s.file(t, `{"email":"`+person+`","type":"access","relationship":"authorized_agent","agent_email":"`+agent+`"}`)
	if code != 202 {
		t.Fatal("agent filing")
	}
	link := s.path(t, addressLink.FindString(s.mailTo(t, agent, fa.ID).Body.Text))
	const n = 200
	for i := 0; i < n; i++ {
		if resp, out := s.doWith(t, clientFrom("127.0.77.1"), "POST", link, "", "", nil); resp.StatusCode != 200 {
			t.Fatalf("post %d: %d %s", i, resp.StatusCode, out)
		}
	}
	pk := "S#" + string(s.hasher.Subject(person))
	entries := 0
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") == pk && str(it, "event") == "agent_address_confirmed" {
			entries++
		}
	}
	raw, _ := s.export(t, person)
	t.Logf("%d posts of one agent link: %d ledger entries in the person's partition; the person's export is %d bytes, %d of them agent_address_confirmed",
		n, entries, len(raw), strings.Count(raw, "agent_address_confirmed"))
	if entries > 1 {
		t.Errorf("replaying one link wrote %d entries into the person's ledger", entries)
	}
}

// H2b. The same, silently and from one source address: limit.Apply
// counts every check even when another is exceeded, so once the
// stranger's own IP is over its hourly limit, each further filing naming
// the person is refused 429 (nothing sent to the person) and still spends
// the person's daily budget. The person receives nothing at all, and their
// own request that day is answered 202 and dropped.
func TestAbuseRefusedFilingsStillSpendPersonsBudget(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim := "victim-" + u + "@example.com"
	c := clientFrom("127.0.79.1")
	codes := map[int]int{}
	for i := 0; i < 20; i++ {
		body := fmt.Sprintf(`{"email":"dummy%d-%s@example.net","type":"access"}`, i, u)
		if i >= 10 {
			body = `{"email":"` + victim + `","type":"access"}`
		}
		resp, _ := s.doWith(t, c, "POST", "/v1/rights-requests", "application/json", body, nil)
		codes[resp.StatusCode]++
	}
	s.idle(t)
	before := len(s.mailsTo(t, victim))
	resp, out := s.doWith(t, clientFrom("127.0.79.2"), "POST", "/v1/rights-requests", "application/json",
		`{"email":"`+victim+`","type":"erasure"}`, nil)
	s.idle(t)
	after := len(s.mailsTo(t, victim))
	t.Logf("stranger's answers by status: %v; emails to the person before their own filing: %d; their own filing: %d %s; emails after: %d",
		codes, before, resp.StatusCode, out, after)
	if after == before {
		t.Errorf("ten 429-refused filings from one IP spent the person's budget: their own erasure was answered %d and nothing was sent", resp.StatusCode)
	}
}
