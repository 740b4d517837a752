package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
)

// startConsoleStack runs a stack whose console signs in with an OpenID
// provider of the test's own (infra/idp, oidc-provider from npm), which
// knows the stack's callback: the stack's port is chosen first.
func startConsoleStack(t *testing.T, params map[string]string) (*stack, *localtest.IdP) {
	t.Helper()
	port := localtest.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	idp := localtest.OwnIdP(t, base+"/console/callback")
	s := startStackConfig(t, localtest.Need(t), 1, map[string]string{"CONSOLE_ISSUER": idp.Issuer, "CONSOLE_CLIENT_ID": idp.ClientID},
		params, func(c *local.Config) { c.Addr = fmt.Sprintf("127.0.0.1:%d", port) })
	return s, idp
}

// signIn signs a browser in through the identity provider's own login
// page, as a person would, and waits for the console's queue.
func (b *tab) signIn(user, password string) {
	b.t.Helper()
	b.open(b.s.URL + "/console/login")
	b.typeInto("#username", user)
	b.typeInto("#password", password)
	b.do(chromedp.Click(chromedp.CSS("button[type=submit]")))
	// The callback's page sends the browser on to the queue.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.HasSuffix(run(b, chromedp.Evaluate[string](`location.pathname + (document.querySelector("nav") ? "!" : "")`)), "/console!") {
		if time.Now().After(deadline) {
			b.t.Fatalf("sign-in did not reach the console: %s", run(b, chromedp.Evaluate[string](`location.href + " " + document.body.innerText`)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := b.text("h1"); got != "Rights requests" {
		b.t.Fatalf("after sign-in: %q", got)
	}
}

// ledgerBy returns who the ledger names for each entry of event.
func (s *stack) ledgerBy(t *testing.T, event string) []string {
	t.Helper()
	var by []string
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == event {
			by = append(by, mapStr(it, "detail", "by"))
		}
	}
	return by
}

// The console, in a browser without JavaScript, signed in for real: a team
// member filters the queue and decides (extend, deny an excessive
// request, apply a correction, lift a restriction), each recorded with
// who decided and each requester emailed; a viewer sees the same pages
// with no action and is refused every one (403); no session gets 401; a
// forged post from another site, or another origin of this one, is
// refused; every page passes axe-core; keyboard alone decides.
func TestConsole(t *testing.T) {
	t.Parallel()
	chromium(t)
	s, idp := startConsoleStack(t, map[string]string{"RightsExcessiveAfter": "1"})
	u := localtest.Unique()
	verified := func(addr, body, want string) string {
		t.Helper()
		id, verify, _ := s.fileAndOpen(t, addr, body)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, want) {
			t.Fatalf("verify %s: %d %s", body, resp.StatusCode, out)
		}
		return id
	}
	restricted := "console-r-" + u + "@example.com"
	restrictID := verified(restricted, `{"email":"`+restricted+`","type":"restriction","details":"my address is disputed"}`, `"completed"`)
	fix := "console-c-" + u + "@example.com"
	fixID := verified(fix, `{"email":"`+fix+`","type":"rectification","field":"name","value":"Ann Corrected"}`, `"awaiting_review"`)
	many := "console-x-" + u + "@example.com"
	verified(many, `{"email":"`+many+`","type":"access"}`, `"completed"`)
	excessID := verified(many, `{"email":"`+many+`","type":"access"}`, `"pending"`)
	waiting := "console-w-" + u + "@example.com"
	waitID, _, _ := s.fileAndOpen(t, waiting, `{"email":"`+waiting+`","type":"erasure"}`)

	// No session: the gateway refuses before any function runs.
	for _, c := range []struct{ method, path string }{{"GET", "/console"}, {"GET", "/console/requests/" + fixID},
		{"POST", "/console/requests/" + fixID}, {"GET", "/console/people"}} {
		if resp, body := s.do(t, c.method, c.path, "application/x-www-form-urlencoded", "action=approve", nil); resp.StatusCode != 401 {
			t.Errorf("%s %s without a session: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	if resp, body := s.do(t, "GET", "/console", "", "", map[string]string{"Cookie": "pk_console=forged.token.value"}); resp.StatusCode != 403 {
		t.Errorf("a forged session: %d %s", resp.StatusCode, body)
	}

	team := s.openBrowser(t, false)
	team.signIn(localtest.IdPTeamUser, localtest.IdPTeamPassword)
	team.check("console-queue")
	for _, id := range []string{restrictID, fixID, excessID, waitID} {
		if !strings.Contains(team.text("main"), id[:8]) && id != restrictID {
			t.Errorf("the queue lacks %s:\n%s", id, team.text("main"))
		}
	}
	// Filters: waiting on the requester is the unverified one only.
	team.do(chromedp.Click(chromedp.CSS("#f-waiting")))
	team.post("form.filters button")
	if main := team.text("main"); !strings.Contains(main, waitID[:8]) || strings.Contains(main, fixID[:8]) ||
		!strings.Contains(team.text("#results"), "1 request") {
		t.Fatalf("waiting filter:\n%s", main)
	}
	team.open(s.URL + "/console?status=awaiting_review")
	if main := team.text("main"); !strings.Contains(main, fixID[:8]) || strings.Contains(main, waitID[:8]) {
		t.Fatalf("status filter:\n%s", main)
	}
	team.open(s.URL + "/console/deadlines")
	team.check("console-deadlines")

	// Extend, by keyboard alone: Tab from the top to the reason, type, Tab
	// to the button, Enter.
	team.open(s.URL + "/console/requests/" + excessID)
	team.check("console-request")
	tabs := 0
	for ; team.focused() != "extend-reason"; tabs++ {
		if tabs == 60 {
			t.Fatal("the extension's reason is not reached by Tab")
		}
		team.do(chromedp.KeyEvent(kb.Tab))
	}
	team.do(chromedp.KeyEvent("The archive search takes longer."))
	for i := 0; team.focused() != "extend"; i++ { // past the date's fields, left empty: the furthest allowed
		if i == 6 {
			t.Fatalf("the extend button is not reached by Tab (focus on %q)", team.focused())
		}
		team.do(chromedp.KeyEvent(kb.Tab))
	}
	team.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := team.text("#done"); !strings.Contains(got, "extended") {
		t.Fatalf("extend: %q", got)
	}
	if m := s.mailTo(t, many, "We need more time"); !strings.Contains(m.Body.Text, "The archive search takes longer.") {
		t.Fatalf("extension email: %s", m.Body.Text)
	}

	// Deny the excessive one; a deny without a reason is refused first.
	team.open(s.URL + "/console/requests/" + excessID)
	if !strings.Contains(team.text("main"), "possibly excessive") {
		t.Fatalf("the excessive flag is not shown:\n%s", team.text("main"))
	}
	team.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#deny-reason").removeAttribute("required")`))
	if status := team.post("#deny"); status != 400 || !strings.Contains(team.text("#problem"), "reason is required") {
		t.Fatalf("deny without a reason: %d %q", status, team.text("main"))
	}
	team.typeInto("#deny-reason", "This is your second request this month; the first was answered on "+time.Now().Format("2 January")+".")
	team.submit("#deny", "#done")
	s.mailTo(t, many, "We cannot carry out your request")

	// Apply the correction, from the link of the team's review email.
	review := s.mailTo(t, s.team, "Correction to review: request "+fixID)
	link := regexp.MustCompile(`http://\S+/console/requests/\S+`).FindString(review.Body.Text)
	if link != s.URL+"/console/requests/"+fixID {
		t.Fatalf("review email's console link %q:\n%s", link, review.Body.Text)
	}
	team.open(link)
	if main := team.text("main"); !strings.Contains(main, "name → Ann Corrected") || strings.Contains(main, fix) {
		t.Fatalf("correction page (shows the correction, never the address):\n%s", main)
	}
	// Ask the requester first (#34 item 3): the form says the deadline
	// stays; the person answers on the link's page (axe, a phone's width),
	// and the request is back, with the answer shown to the team.
	if main := team.text("main"); !strings.Contains(main, "the clock does not stop") {
		t.Fatalf("the ask form does not state the deadline rule:\n%s", main)
	}
	team.typeInto("#ask-question", "Is it Ann or Anne on your contract?")
	team.submit("#ask", "#done")
	if status := team.text("#status"); status != "waiting for information" || !strings.Contains(team.text("main"), "the clock does not stop") {
		t.Fatalf("asked: %q\n%s", status, team.text("main"))
	}
	team.check("console-request-waiting")
	question := s.mailTo(t, fix, "A question about your privacy request "+fixID)
	person := s.openBrowser(t, false)
	person.open(answerLink.FindString(question.Body.Text))
	person.check("answer-page")
	if q := person.text("#question"); q != "Is it Ann or Anne on your contract?" {
		t.Fatalf("the answer page shows %q", q)
	}
	person.typeInto("#answer-answer", "Ann, as on the contract.")
	person.submit("form button", "main p")
	if !strings.Contains(person.text("main"), "We received your answer") {
		t.Fatalf("after answering: %s", person.text("main"))
	}
	team.open(link)
	if status, answer := team.text("#status"), team.text("#answer"); status != "awaiting review" || !strings.Contains(answer, "Ann, as on the contract.") {
		t.Fatalf("answered: %q %q", status, answer)
	}
	team.submit("#approve", "#done")
	s.mailTo(t, fix, "Your data is corrected")

	// Lift the restriction.
	team.open(s.URL + "/console/requests/" + restrictID)
	team.typeInto("#lift-reason", "Your address is confirmed.")
	team.submit("#lift", "#done")
	if m := s.mailTo(t, restricted, "restriction of your data is lifted"); !strings.Contains(m.Body.Text, "Your address is confirmed.") {
		t.Fatalf("lift email: %s", m.Body.Text)
	}
	if status := team.text("#status"); status != "completed" {
		t.Fatalf("after lift: %q", status)
	}
	// Each decision names who took it; each view of a request is recorded.
	for _, e := range []string{"deadline_extended", "request_denied", "restriction_lift_notified"} {
		if by := s.ledgerBy(t, e); len(by) != 1 || by[0] != localtest.IdPTeamUser {
			t.Errorf("%s by %v, want [%s]", e, by, localtest.IdPTeamUser)
		}
	}
	if by := s.ledgerBy(t, "request_viewed"); len(by) < 4 {
		t.Errorf("request_viewed %d times, want every view (at least 4)", len(by))
	}

	// People: the address is posted, hashed, never kept or logged.
	team.open(s.URL + "/console/people")
	team.check("console-people")
	team.typeInto("#p-email", restricted)
	team.submit("#find", "h3")
	if main := team.text("main"); !strings.Contains(main, restrictID) {
		t.Fatalf("person search:\n%s", main)
	}
	if by := s.ledgerBy(t, "person_viewed"); len(by) != 1 || by[0] != localtest.IdPTeamUser {
		t.Errorf("person_viewed by %v", by)
	}
	// A request that came by post, its identity checked, entered from the
	// console: carried out at once; the ledger names who entered it.
	team.open(s.URL + "/console/people")
	posted := "posted-" + u + "@example.com"
	team.typeInto("#e-email", posted)
	team.typeInto("#e-identity", "the letter's signature matches the contract")
	team.do(chromedp.SetValue(chromedp.CSS("#e-channel"), "post"))
	team.submit("#enter", "#entered")
	team.check("console-entered")
	if got := team.text("#entered"); !strings.Contains(got, "completed") {
		t.Fatalf("entered: %q", got)
	}
	s.mailTo(t, posted, "Your data is ready")
	if by := s.ledgerBy(t, "request_entered"); len(by) != 1 || by[0] != localtest.IdPTeamUser {
		t.Errorf("request_entered by %v", by)
	}
	// A legal hold placed from the console, with its reason: the team's
	// audit names who and why (#33 item 3).
	team.open(s.URL + "/console/people")
	team.typeInto("#a-email", "held-"+u+"@example.com")
	team.typeInto("#a-reason", "litigation LIT-"+u)
	team.submit("#act", "#done")
	if out, err := s.privacyctl(t, "audit", "-format", "jsonl"); err != nil ||
		!strings.Contains(out, `"action":"legal_hold_placed"`) || !strings.Contains(out, `"reason":"litigation LIT-`+u+`"`) {
		t.Errorf("the console's hold in the audit: %v\n%s", err, out)
	}
	// Controllers: issued, the secret shown once; revoked.
	team.open(s.URL + "/console/controllers")
	team.check("console-controllers")
	team.typeInto("#c-name", "Acme "+u)
	team.do(chromedp.SetValue(chromedp.CSS("#c-region"), "us"))
	team.typeInto("#c-reason", "signed contract "+u)
	team.submit("#issue", "#issued-secret")
	if secret := team.text("#issued-secret"); len(secret) < 40 {
		t.Fatalf("issued secret %q", secret)
	}
	team.open(s.URL + "/console/controllers")
	if strings.Contains(team.text("main"), "Secret") || !strings.Contains(team.text("main"), "Acme "+u) {
		t.Fatalf("controllers page after issuing:\n%s", team.text("main"))
	}
	team.do(chromedp.Click(chromedp.CSS("button[aria-label^='Revoke']")), chromedp.WaitVisible(chromedp.CSS("#done")))
	// Each action on a controller names who took it, in the team's own
	// ledger partition (#33 item 3); privacyctl audit lists them.
	for _, e := range []string{"controller_issued", "controller_revoked"} {
		if by := s.ledgerBy(t, e); len(by) != 1 || by[0] != localtest.IdPTeamUser {
			t.Errorf("%s by %v, want [%s]", e, by, localtest.IdPTeamUser)
		}
	}
	// Processors (#35 item 4): registered from the console by the
	// operator's own action, by contact address alone and by OpenDSR URL
	// with a contact address; the page passes axe; the audit names who
	// and why, and the contact's domain, never its address.
	team.open(s.URL + "/console/processors")
	team.check("console-processors")
	team.typeInto("#p-name", "Pardot "+u)
	team.typeInto("#p-contact", "privacy-"+u+"@pardot.example")
	team.typeInto("#p-reason", "DPA signed "+u)
	team.submit("#register", "#done")
	recv := opendsrtest.New(t)
	team.open(s.URL + "/console/processors")
	team.typeInto("#p-name", "Drift "+u)
	team.typeInto("#p-contact", "dpo-"+u+"@drift.example")
	team.typeInto("#p-url", recv.URL)
	team.typeInto("#p-credentials", "site:pw")
	team.do(chromedp.SetValue(chromedp.CSS("#p-certificate"), string(recv.Certificate)))
	team.typeInto("#p-reason", "Art. 28 contract "+u)
	team.submit("#register", "#done")
	// Each registration waits for a second member: privacyctl's dpo
	// approves both.
	if out, _ := s.privacyctl(t, "processor", "list"); strings.Contains(out, "Pardot "+u) {
		t.Fatalf("a registration from the console took effect before a second member approved it:\n%s", out)
	}
	if n := s.approveWaiting(t); n != 2 {
		t.Fatalf("%d asks waiting, want the 2 registrations", n)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, "mailto:privacy-"+u+"@pardot.example") ||
		!strings.Contains(out, recv.URL+" mailto:dpo-"+u+"@drift.example") {
		t.Fatalf("processors registered from the console:\n%s", out)
	}
	if by := s.ledgerBy(t, "processor_add_asked"); len(by) != 2 || by[0] != localtest.IdPTeamUser || by[1] != localtest.IdPTeamUser {
		t.Errorf("processor_add_asked by %v, want the console's member twice", by)
	}
	if by := s.ledgerBy(t, "processor_added"); len(by) != 2 || by[0] != dpoARN || by[1] != dpoARN {
		t.Errorf("processor_added by %v, want privacyctl's dpo twice", by)
	}
	if out, err := s.privacyctl(t, "audit", "-format", "jsonl"); err != nil || !strings.Contains(out, `"reason":"Art. 28 contract `+u+`"`) ||
		!strings.Contains(out, "drift.example") || strings.Contains(out, "dpo-"+u) {
		t.Errorf("the console's processors in the audit: %v\n%s", err, out)
	}
	// Issue #35 gap B: the team changes Pardot's contact from the page
	// (axe-checked with its form), the operator's own action: the
	// processors' list has the new address, the audit the new domain and
	// why, never the address.
	pardotID := regexp.MustCompile(`(?m)^(\S+)\s+Pardot ` + u).FindStringSubmatch(mustPrivacyctl(t, s, "processor", "list"))
	if pardotID == nil {
		t.Fatal("no Pardot in processor list")
	}
	team.open(s.URL + "/console/processors")
	team.check("console-processors-contact")
	team.do(chromedp.SetValue(chromedp.CSS("#c-id"), pardotID[1]))
	team.typeInto("#c-contact", "dpo-"+u+"@pardot-privacy.example")
	team.typeInto("#c-reason", "their DPO moved "+u)
	team.submit("#change-contact", "#done")
	team.check("console-processors-ask")
	if n := s.approveWaiting(t); n != 1 {
		t.Fatalf("%d asks waiting, want the contact change", n)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, "mailto:dpo-"+u+"@pardot-privacy.example") ||
		strings.Contains(out, "mailto:privacy-"+u+"@pardot.example") {
		t.Fatalf("the contact changed from the console:\n%s", out)
	}
	if out, err := s.privacyctl(t, "audit", "-format", "jsonl"); err != nil || !strings.Contains(out, `"action":"processor_contact_changed"`) ||
		!strings.Contains(out, `"reason":"their DPO moved `+u+`"`) || !strings.Contains(out, "pardot-privacy.example") ||
		strings.Contains(out, "dpo-"+u+"@") || !strings.Contains(out, localtest.IdPTeamUser) ||
		!strings.Contains(out, `"action":"processor_contact_change_asked"`) {
		t.Errorf("the console's contact change in the audit: %v\n%s", err, out)
	}
	// A wrong certificate is refused with why, nothing registered.
	team.open(s.URL + "/console/processors")
	team.typeInto("#p-name", "Wrong "+u)
	team.typeInto("#p-url", recv.URL)
	team.typeInto("#p-credentials", "site:pw")
	team.typeInto("#p-reason", "no certificate")
	if status := team.post("#register"); status != 400 || !strings.Contains(team.text("#problem"), "certificate") {
		t.Errorf("a registration without a certificate: %d %q", status, team.text("main"))
	}
	// privacyctl's take -reason: the audit says why.
	if out, err := s.privacyctl(t, "opendsr-controller", "-name", "Pilot "+u, "-region", "us", "-reason", "pilot contract "+u); err != nil {
		t.Fatalf("opendsr-controller: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "audit"); err != nil || !strings.Contains(out, "controller_issued") ||
		!strings.Contains(out, "controller_revoked") || !strings.Contains(out, localtest.IdPTeamUser) ||
		!strings.Contains(out, "pilot contract "+u) {
		t.Errorf("privacyctl audit: %v\n%s", err, out)
	}

	// Policy: a version published from the console, by who signed in;
	// campaigns: an unknown id is a 404 on the page.
	team.open(s.URL + "/console/policy")
	team.check("console-policy")
	version := "2027-01-" + u[:6]
	team.typeInto("#pv-version", version)
	team.do(chromedp.SetValue(chromedp.CSS("#pv-effective"), "2027-01-15"))
	team.typeInto("#pv-summary", "We now keep contact messages for six months.")
	team.typeInto("#pv-reason", "retention review "+u)
	team.submit("#publish", "#done")
	if main := team.text("main"); !strings.Contains(main, version) || !strings.Contains(main, localtest.IdPTeamUser) {
		t.Fatalf("policy page after publishing:\n%s", main)
	}
	// The policy's publication and the console's reasons are in the audit
	// export, with who (#33 items 3 and 4).
	if out, err := s.privacyctl(t, "audit", "-format", "csv", "-from", time.Now().UTC().Format(time.DateOnly)); err != nil ||
		!strings.Contains(out, "policy_published,"+version+","+localtest.IdPTeamUser+",retention review "+u) ||
		!strings.Contains(out, "controller_issued,") || !strings.Contains(out, "signed contract "+u) {
		t.Errorf("privacyctl audit -format csv: %v\n%s", err, out)
	}
	// The report of this month: the requests this test made, by type;
	// the page passes axe.
	team.open(s.URL + "/console/report")
	team.check("console-report")
	if main := team.text("main"); !strings.Contains(main, "All types") || !strings.Contains(main, "Denials by reason") ||
		!strings.Contains(main, "This is your second request this month") {
		t.Fatalf("report page:\n%s", main)
	}
	if out, err := s.privacyctl(t, "report", "-json"); err != nil || !strings.Contains(out, `"total"`) {
		t.Errorf("privacyctl report: %v\n%s", err, out)
	}
	// The record of processing (Art. 30), printable: each activity, its
	// basis as the policy in force states it, its retention.
	team.open(s.URL + "/console/ropa")
	team.check("console-ropa")
	if main := team.text("main"); !strings.Contains(main, "Record of processing activities") || !strings.Contains(main, "legitimate interest") ||
		!strings.Contains(main, "contact inquiry") || !strings.Contains(main, "The Platform") {
		t.Fatalf("record of processing page:\n%s", main)
	}
	team.open(s.URL + "/console/campaigns?id=no-such-campaign")
	team.check("console-campaigns")
	if !strings.Contains(team.text("#problem"), "no campaign") {
		t.Fatalf("campaign page: %s", team.text("main"))
	}

	// A forged post, from a page of another site (localhost is not
	// 127.0.0.1) and from another origin of this site (another port):
	// the first carries no session (SameSite=Strict), the second no CSRF
	// token; neither does anything.
	forged := `<!doctype html><html lang="en"><title>x</title><form method="post" action="` + s.URL + `/console/requests/` + waitID +
		`"><input name="action" value="deny"><input name="reason" value="forged"><button id="go">go</button></form></html>`
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, forged)
	}))
	defer evil.Close()
	for _, origin := range []string{strings.Replace(evil.URL, "127.0.0.1", "localhost", 1), evil.URL} {
		team.open(origin)
		if status := team.post("#go"); status != 401 && status != 403 {
			t.Errorf("forged post from %s: %d", origin, status)
		}
	}
	if by := s.ledgerBy(t, "request_denied"); len(by) != 1 {
		t.Fatalf("a forged post denied a request: %v", by)
	}
	team.open(s.URL + "/console/requests/" + waitID)
	if status := team.text("#status"); status != "identity unverified" {
		t.Fatalf("after forged posts: %q", status)
	}

	// With JavaScript: the filters apply as they change, and a denial asks
	// first (dismissed: nothing is posted); no CSP violation or script
	// error (the tab reports them).
	scripted := team
	scripted.scripts(true)
	scripted.open(s.URL + "/console")
	scripted.do(chromedp.Click(chromedp.CSS("#f-waiting")))
	applied := `location.search.includes("waiting=1") && document.readyState === "complete" &&
		(document.querySelector("#results") || {}).textContent === "1 request"`
	for deadline := time.Now().Add(10 * time.Second); !run(scripted, chromedp.Evaluate[bool](applied)); {
		if time.Now().After(deadline) {
			t.Fatalf("the filter did not apply on change: %s", run(scripted, chromedp.Evaluate[string](`location.href`)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	scripted.open(s.URL + "/console/requests/" + waitID)
	scripted.typeInto("#deny-reason", "dismissed")
	dctx, dcancel := contextFor(scripted)
	defer dcancel()
	asked := make(chan string, 1)
	go func() {
		for e, err := range chromedp.Events(dctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			asked <- e.Message
			go func() {
				_ = chromedp.Do(dctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
					return err
				}))
			}()
			return
		}
	}()
	scripted.do(chromedp.Click(chromedp.CSS("#deny")))
	select {
	case m := <-asked:
		if !strings.Contains(m, "Deny this request?") {
			t.Errorf("the denial asked %q", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a denial did not ask first")
	}
	scripted.open(s.URL + "/console/requests/" + waitID)
	if by := s.ledgerBy(t, "request_denied"); len(by) != 1 || scripted.text("#status") != "identity unverified" {
		t.Fatalf("a dismissed denial was posted: %v", by)
	}

	// A viewer: the same pages, no action on them, and every action
	// refused even when posted with the viewer's own valid token.
	viewer := s.openBrowser(t, false)
	viewer.signIn(localtest.IdPViewerUser, localtest.IdPViewerPassword)
	viewer.open(s.URL + "/console/requests/" + waitID)
	if n := run(viewer, chromedp.Evaluate[int](`document.querySelectorAll("form.decision").length`)); n != 0 {
		t.Fatalf("a viewer sees %d decision forms", n)
	}
	csrf := viewer.attr("form.who input[name=csrf]", "value")
	viewer.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const f = document.createElement("form"); f.id = "own"; f.method = "post";
		f.action = "/console/requests/%s"; for (const [k, v] of [["csrf", %q], ["action", "deny"], ["reason", "viewer"]]) {
		const i = document.createElement("input"); i.name = k; i.value = v; f.append(i); } document.body.append(f); })()`, waitID, csrf)))
	ctx, cancel := contextFor(viewer)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("own").submit()`))
	if err != nil || resp.Status != 403 {
		t.Fatalf("a viewer's deny: %v %v", err, resp)
	}
	if by := s.ledgerBy(t, "request_denied"); len(by) != 1 {
		t.Fatalf("a viewer denied a request: %v", by)
	}
	viewer.open(s.URL + "/console/controllers")
	if strings.Contains(viewer.text("main"), "Issue credentials") {
		t.Fatal("a viewer is offered to issue credentials")
	}
	viewer.open(s.URL + "/console/processors")
	if main := viewer.text("main"); strings.Contains(main, "Register a processor") || strings.Contains(main, "Change a processor's privacy contact") ||
		!strings.Contains(main, "Pardot "+u) {
		t.Fatalf("a viewer's processors page:\n%s", viewer.text("main"))
	}
	viewer.open(s.URL + "/console/policy")
	if strings.Contains(viewer.text("main"), "Publish a version") || !strings.Contains(viewer.text("main"), version) {
		t.Fatalf("a viewer's policy page:\n%s", viewer.text("main"))
	}
	// Signing out ends the provider's session too (it asks to confirm):
	// the next sign-in asks for the password again.
	viewer.do(chromedp.Click(chromedp.CSS("form.who button")), chromedp.WaitVisible(chromedp.CSS("button[value=yes]")))
	viewer.do(chromedp.Click(chromedp.CSS("button[value=yes]")), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if got := viewer.text("main h1"); got != "Signed out" {
		t.Fatalf("after signing out: %q", viewer.text("body"))
	}
	viewer.check("console-signed-out")
	viewer.open(s.URL + "/console/login")
	if n := run(viewer, chromedp.Evaluate[int](`document.querySelectorAll("#password").length`)); n != 1 {
		t.Fatalf("a sign-in after signing out did not ask for the password: %s", viewer.text("body"))
	}
	viewer.open(s.URL + "/console")
	if !strings.Contains(viewer.text("body"), "Unauthorized") {
		t.Fatalf("after sign-out: %s", viewer.text("body"))
	}

	// A copy of a member's cookies (taken from the browser, as malware or
	// a shared machine would) ends with the session: after the console's
	// sign-out, which revokes the session's tokens at the provider (the
	// provider's own logout page is left unanswered here: the console's
	// sign-out alone ends it), and after an administrator takes a member
	// out of the group (and signs them out everywhere, which the local
	// provider's route does with it, as Cognito's two commands do).
	copied := cookieHeader(team, s.URL+"/console")
	if resp, body := s.do(t, "GET", "/console", "", "", map[string]string{"Cookie": copied}); resp.StatusCode != 200 {
		t.Fatalf("the team's copied cookies before sign-out: %d %.200s", resp.StatusCode, body)
	}
	team.do(chromedp.Click(chromedp.CSS("form.who button")), chromedp.WaitVisible(chromedp.CSS("button[value=yes]")))
	if resp, body := s.do(t, "GET", "/console", "", "", map[string]string{"Cookie": copied}); resp.StatusCode != 403 {
		t.Errorf("the team's copied cookies after sign-out: %d %.200s", resp.StatusCode, body)
	}
	viewer.signIn(localtest.IdPViewerUser, localtest.IdPViewerPassword)
	copied = cookieHeader(viewer, s.URL+"/console")
	if resp, body := s.do(t, "GET", "/console", "", "", map[string]string{"Cookie": copied}); resp.StatusCode != 200 {
		t.Fatalf("the viewer's copied cookies: %d %.200s", resp.StatusCode, body)
	}
	removed, err := http.PostForm(idp.Issuer+"/local/remove-from-group", url.Values{"username": {localtest.IdPViewerUser}, "group": {"privacy-viewer"}})
	if err != nil || removed.StatusCode != http.StatusNoContent {
		t.Fatalf("remove the viewer from the group: %v %v", err, removed)
	}
	removed.Body.Close()
	if resp, body := s.do(t, "GET", "/console", "", "", map[string]string{"Cookie": copied}); resp.StatusCode != 403 {
		t.Errorf("the viewer's copied cookies after removal from the group: %d %.200s", resp.StatusCode, body)
	}
	viewer.open(s.URL + "/console")
	if !strings.Contains(viewer.text("body"), "Forbidden") {
		t.Errorf("the removed viewer's own browser: %s", viewer.text("body"))
	}

	// No log line holds an address the console was given or showed, nor
	// who signed in.
	logs := s.logs.String()
	for _, a := range []string{restricted, fix, many, waiting, localtest.IdPTeamUser, localtest.IdPViewerUser} {
		if strings.Contains(logs, a) {
			t.Errorf("%s is in the functions' log", a)
		}
	}
}

// mapStr is a string in a map attribute of an item.
func mapStr(item map[string]types.AttributeValue, m, key string) string {
	mv, _ := item[m].(*types.AttributeValueMemberM)
	if mv == nil {
		return ""
	}
	v, _ := mv.Value[key].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// submit presses a form's button and waits for the page the post
// answers (not only for the click), then for what must be on it.
func (b *tab) submit(button, want string) {
	b.t.Helper()
	status := b.post(button)
	if status >= 400 {
		b.t.Fatalf("browser: post with %s: %d\n%s", button, status, b.text("body"))
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(want))); err != nil {
		b.t.Fatalf("browser: after the post with %s (%d), %s: %v\n%s", button, status, want, err, b.text("body"))
	}
}

// cookieHeader is the Cookie header the browser sends to u: a copy of its
// session.
func cookieHeader(b *tab, u string) string {
	b.t.Helper()
	got := run(b, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	}))
	var parts []string
	for _, c := range got.Cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

func contextFor(b *tab) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 30*time.Second)
}

// mustPrivacyctl runs privacyctl and fails the test on an error.
func mustPrivacyctl(t *testing.T, s *stack, args ...string) string {
	t.Helper()
	out, err := s.privacyctl(t, args...)
	if err != nil {
		t.Fatalf("privacyctl %v: %v %s", args, err, out)
	}
	return out
}
