package e2e

import (
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Portability to a third party (policy §8f, "to you, or a third party you
// have chosen"): the verification page names the recipient plainly; only
// once the person confirms does the recipient get the export link, and
// the person a copy of the notice; the ledger records the recipient's
// hash, never the address, and the request keeps neither address after.
func TestPortabilityToAThirdParty(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, recipient := "mover-"+u+"@example.com", "new-provider-"+u+"@example.net"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Mo","email":"`+person+`","message":"MOVE-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}

	// recipient_email belongs to portability, and is another address.
	for _, body := range []string{`{"email":"` + person + `","type":"access","recipient_email":"` + recipient + `"}`,
		`{"email":"` + person + `","type":"portability","recipient_email":"not-an-address"}`,
		`{"email":"` + person + `","type":"portability","recipient_email":"` + person + `"}`} {
		if code, f := s.file(t, body); code != 400 {
			t.Fatalf("%s: %d %+v", body, code, f)
		}
	}

	id, verify, _ := s.fileAndOpen(t, person, `{"email":"`+person+`","type":"portability","recipient_email":"`+recipient+`"}`)
	resp, page := s.do(t, "GET", s.path(t, verify), "", "", map[string]string{"accept": "text/html"})
	if resp.StatusCode != 200 || !strings.Contains(html.UnescapeString(page), recipient) || !strings.Contains(page, "Confirm where your data goes") {
		t.Fatalf("verification page: %d %s", resp.StatusCode, page)
	}
	s.idle(t)
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(recipient) })); n != 0 {
		t.Fatal("the recipient was mailed before the person confirmed")
	}
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}

	sent := s.mailTo(t, recipient, "A copy of personal data sent at its owner's request")
	if !strings.Contains(sent.Body.Text, person) {
		t.Fatalf("the recipient is not told whose data it is: %s", sent.Body.Text)
	}
	exportLink := regexp.MustCompile(`http://[^\s"<>]+/export\?token=[A-Za-z0-9_-]+`).FindString(sent.Body.Text)
	resp, out := s.do(t, "GET", s.path(t, exportLink), "", "", nil)
	var ex struct {
		RequestID string           `json:"request_id"`
		Records   []map[string]any `json:"records"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &ex) != nil || ex.RequestID != id || !strings.Contains(out, "MOVE-"+u) {
		t.Fatalf("the recipient's export: %d %s", resp.StatusCode, out)
	}
	notice := s.mailTo(t, person, "Your data was sent to the recipient you chose")
	if !strings.Contains(notice.Body.Text, recipient) {
		t.Fatalf("the person's notice does not name the recipient: %s", notice.Body.Text)
	}
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(person) && strings.Contains(e.Subject, "Your data is ready") })); n != 0 {
		t.Fatal("the usual export email went out too")
	}

	// The ledger has the recipient's hash only; once the emails have gone
	// the request keeps neither address.
	var hashed bool
	for _, it := range s.items(t, "LedgerTable") {
		b, _ := json.Marshal(it)
		if strings.Contains(string(b), id) && strings.Contains(string(b), "recipient_hash") {
			hashed = true
		}
	}
	if !hashed {
		t.Fatal("no recipient hash in the ledger")
	}
	s.waitNoTrace(t, 20*time.Second, recipient)
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "id") == id && (str(it, "email") != "" || str(it, "recipient_email") != "") {
			t.Fatalf("the finished request keeps an address: %v", it)
		}
	}
}
