package e2e

import (
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// The Global Privacy Control signal (CCPA/CPRA): a form sent with
// Sec-GPC: 1 is recorded in the ledger (gpc_signal) and marks the person
// opted out of sale and sharing, once; it never blocks the newsletter the
// person asks for; the privacy center says, when the browser sends it,
// that it was received and what it changes.
func TestGlobalPrivacyControl(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "gpc-" + u + "@example.com"
	gpc := map[string]string{"Sec-GPC": "1"}

	resp, page := s.do(t, "GET", "/privacy", "", "", map[string]string{"accept": "text/html", "Sec-GPC": "1"})
	if resp.StatusCode != 200 || !strings.Contains(page, `id="gpc-notice"`) || !strings.Contains(page, "Global Privacy Control") {
		t.Fatalf("privacy center with the signal: %d", resp.StatusCode)
	}
	if _, page := s.do(t, "GET", "/privacy", "", "", map[string]string{"accept": "text/html"}); strings.Contains(page, `id="gpc-notice"`) {
		t.Fatal("the notice shows without the signal")
	}

	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+addr+`","topics":["newsletter"],"consent":true}`, gpc); resp.StatusCode != 202 {
		t.Fatalf("signup with the signal: %d %s", resp.StatusCode, out)
	}
	link := confirmLink.FindString(s.mailTo(t, addr, "Please confirm your subscription").Body.Text)
	if resp, _ := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 {
		t.Fatal("the newsletter the person asked for is blocked")
	}
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"G","email":"`+addr+`","message":"GPC-`+u+`"}`, gpc); resp.StatusCode != 202 {
		t.Fatalf("contact with the signal: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, addr, "We received your message")

	pk := "S#" + string(s.hasher.Subject(addr))
	var marks, signals int
	for _, it := range s.items(t, "SubjectsTable") {
		if str(it, "pk") == pk && str(it, "kind") == "sale_opt_out" && str(it, "source") == "gpc" {
			marks++
		}
		if str(it, "pk") == pk && (str(it, "email_md5") != "" || str(it, "email_sha256") != "") {
			t.Errorf("a site item written through the forms carries digest keys: %v", it)
		}
	}
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") == pk && str(it, "event") == "gpc_signal" {
			signals++
		}
	}
	if marks != 1 || signals != 2 {
		t.Fatalf("%d opt-out marks (want 1) and %d gpc_signal entries (want one per form)", marks, signals)
	}
	if st := str(s.subscription(t, addr), "status"); st != "confirmed" {
		t.Fatalf("subscription %q", st)
	}
	out, _ := s.export(t, addr)
	if !strings.Contains(out, "sale_opt_out") {
		t.Fatalf("the export does not show the opt-out: %.300s", out)
	}
}
