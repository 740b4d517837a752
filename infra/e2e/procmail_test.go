package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// processorLink is a processor's confirmation link in its email.
var processorLink = regexp.MustCompile(`http://[^\s"<>]+/v1/rights-requests/([0-9a-f-]+)/processors/([^/\s"<>]+)/confirm\?token=[A-Za-z0-9_-]+`)

// GDPR Art. 19 by email: two processors without an API, registered by
// their privacy contact addresses, are emailed an erasure with a
// reference and a link that confirms it done; the request's page shows
// each one's state; a restriction and a rectification reach them by email
// too. Abuse: a link altered to another request or processor, a forged
// token, a replay, a stranger reading the confirmation page, and the
// contact addresses mailed nothing beyond the requests they are told of.
func TestEmailProcessorConfirmsByLink(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	pardot, drift := "privacy-"+u+"@pardot.example", "dpo-"+u+"@drift.example"
	for _, p := range []struct{ name, contact string }{{"Pardot " + u, pardot}, {"Drift " + u, drift}} {
		if _, out := s.registerProcessor(t, "-name", p.name, "-contact", p.contact); !strings.Contains(out, "emailed every erasure, rectification, restriction") {
			t.Fatalf("processor add %s: %s", p.name, out)
		}
	}
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, "mailto:"+pardot) {
		t.Fatalf("processor list: %s", out)
	}
	// The ledger names the registration's team member, not the address
	// (its values read as text: fmt of the SDK's values prints pointers).
	added := 0
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") != "processor_added" || !strings.Contains(itemText(t, it), "pardot.example") {
			continue
		}
		added++
		if strings.Contains(itemText(t, it), pardot) {
			t.Fatal("the ledger keeps a processor's contact address")
		}
	}
	if added == 0 {
		t.Fatal("no processor_added entry names the contact's domain")
	}
	// No address is mailed at registration; an access request tells no one.
	addr := "erase-" + u + "@example.com"
	_, verify, _ := s.fileAndOpen(t, "acc-"+u+"@example.com", `{"email":"acc-`+u+`@example.com","type":"access"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify access: %d %s", resp.StatusCode, out)
	}

	// The erasure: each processor is emailed once, at once; the
	// completion email goes without waiting for their confirmation.
	id, verify, status := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure","details":"SECRET-`+u+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	asked := map[string]localtest.Email{}
	links := map[string][]string{} // contact -> request id, processor id, link
	for _, to := range []string{pardot, drift} {
		m := s.mailTo(t, to, "Data subject request")
		asked[to] = m
		l := processorLink.FindStringSubmatch(m.Body.Text)
		if l == nil || l[1] != id || !strings.Contains(m.Subject, "erasure") || !strings.Contains(m.Body.Text, addr) ||
			strings.Contains(m.Body.Text, "SECRET-"+u) {
			t.Fatalf("the email to %s:\n%s\n%s", to, m.Subject, m.Body.Text)
		}
		links[to] = l
	}
	if done := s.mailTo(t, addr, "Your erasure request"); !strings.Contains(done.Body.Text, "asked by email; waiting for their confirmation") {
		t.Fatalf("completion email:\n%s", done.Body.Text)
	}
	told := func() string {
		t.Helper()
		resp, out := s.do(t, "GET", s.path(t, status), "", "", map[string]string{"Accept": "application/json"})
		var st map[string]any
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("status: %d %s", resp.StatusCode, out)
		}
		b, _ := json.Marshal(st["recipients_told"])
		return string(b)
	}
	if got := told(); strings.Count(got, "waiting for their confirmation") != 2 {
		t.Fatalf("recipients before: %s", got)
	}

	// Altered links: another request's id, the other processor's id, a
	// changed token; each the contract's invalid_token on GET and POST.
	p, d := links[pardot], links[drift]
	other := "00000000-0000-4000-8000-000000000000"
	for name, link := range map[string]string{
		"another request":   strings.Replace(p[0], "/rights-requests/"+id+"/", "/rights-requests/"+other+"/", 1),
		"another processor": strings.Replace(p[0], "/processors/"+p[2]+"/", "/processors/"+d[2]+"/", 1),
		"an altered token":  p[0][:len(p[0])-3] + flip(p[0][len(p[0])-3:]),
		"no token":          p[0][:strings.Index(p[0], "?")],
	} {
		for _, method := range []string{"GET", "POST"} {
			if resp, out := s.do(t, method, s.path(t, link), "", "", nil); resp.StatusCode != 400 || !strings.Contains(out, "invalid_token") {
				t.Fatalf("%s %s: %d %s", method, name, resp.StatusCode, out)
			}
		}
	}
	if got := told(); strings.Count(got, "waiting for their confirmation") != 2 {
		t.Fatalf("an altered link changed something: %s", got)
	}

	// The page a link opens (a stranger holding it) shows nothing of the
	// request or the person beyond the link itself (whose path names the
	// request: its form posts back to it), and changes nothing.
	resp, page := s.do(t, "GET", s.path(t, p[0]), "", "", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(page, "Confirm it done") {
		t.Fatalf("confirm page: %d %s", resp.StatusCode, page)
	}
	for _, secret := range []string{addr, "erasure", "Pardot", pardot, "received"} {
		if strings.Contains(page, secret) {
			t.Fatalf("the confirmation page shows %q", secret)
		}
	}
	if got := told(); strings.Count(got, "waiting for their confirmation") != 2 {
		t.Fatalf("GET changed something: %s", got)
	}

	// Pardot confirms; again (a replay) changes nothing more.
	for range 2 {
		if resp, out := s.do(t, "POST", s.path(t, p[0]), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("confirm: %d %s", resp.StatusCode, out)
		}
	}
	got := told()
	if !strings.Contains(got, `"Pardot `+u+`","status":"asked; they have confirmed the erasure"`) ||
		!strings.Contains(got, `"Drift `+u+`","status":"asked by email; waiting for their confirmation"`) {
		t.Fatalf("recipients after Pardot confirmed: %s", got)
	}
	if resp, page := s.do(t, "GET", s.path(t, status), "", "", map[string]string{"Accept": "text/html"}); resp.StatusCode != 200 ||
		!strings.Contains(page, "they have confirmed the erasure") || !strings.Contains(page, "waiting for their confirmation") {
		t.Fatalf("the status page: %d", resp.StatusCode)
	}
	n := 0
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == "processor_confirmed" && str(it, "ref") == id {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d processor_confirmed events after a confirmation and its replay", n)
	}
	// The confirmed delivery keeps no address of the person.
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "pk") == "R#"+id && str(it, "sk") == "RCPT#"+p[2] && str(it, "identity_value") != "" {
			t.Fatal("a confirmed delivery keeps the person's address")
		}
	}

	// A restriction and a rectification reach both by email.
	rst := "restrict-" + u + "@example.com"
	_, verify, _ = s.fileAndOpen(t, rst, `{"email":"`+rst+`","type":"restriction"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify restriction: %d %s", resp.StatusCode, out)
	}
	pat := "pat-" + u + "@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Pat","email":"`+pat+`","phone":"+44 20 7946 0000","message":"hello"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	rid, verify, _ := s.fileAndOpen(t, pat, `{"email":"`+pat+`","type":"rectification","field":"phone","value":"+44 20 7000 0000"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify rectification: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", rid); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	for _, to := range []string{pardot, drift} {
		for _, c := range []struct{ kind, person string }{{"restriction", rst}, {"rectification", pat}} {
			ms := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
				return e.To(to) && strings.Contains(e.Subject, c.kind)
			})
			if len(ms) != 1 || !strings.Contains(ms[0].Body.Text, c.person) || processorLink.FindString(ms[0].Body.Text) == "" ||
				strings.Contains(ms[0].Body.Text, "7000 0000") {
				t.Fatalf("the %s email to %s: %+v", c.kind, to, ms)
			}
		}
	}

	// Each contact address was told exactly the three requests, once
	// each: nothing at registration, for the access request, or from the
	// links' use. (Two within its mailbox's period come as one digest.)
	s.idle(t)
	for _, to := range []string{pardot, drift} {
		ms := localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(to) })
		told := 0
		for _, m := range ms {
			told += len(processorLink.FindAllString(m.Body.Text, -1))
		}
		if told != 3 || len(ms) > 3 {
			t.Fatalf("%s got %d emails telling %d requests, want 3 requests", to, len(ms), told)
		}
	}
}

// flip changes each character of s, staying in base64url.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}
