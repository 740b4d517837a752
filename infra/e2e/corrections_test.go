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

// export files an access request for addr, verifies it and returns the
// export it links to.
func (s *stack) export(t *testing.T, addr string) (string, struct {
	Records []map[string]any `json:"records"`
	Consent []map[string]any `json:"consent_and_processing_events"`
}) {
	t.Helper()
	_, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"access"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify access: %d %s", resp.StatusCode, out)
	}
	ready := s.mailTo(t, addr, "Your data is ready")
	link := regexp.MustCompile(`http://[^\s"<>]+/export\?token=[A-Za-z0-9_-]+`).FindString(ready.Body.Text)
	resp, out := s.do(t, "GET", s.path(t, link), "", "", nil)
	var ex struct {
		Records []map[string]any `json:"records"`
		Consent []map[string]any `json:"consent_and_processing_events"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &ex) != nil {
		t.Fatalf("export: %d %.300s", resp.StatusCode, out)
	}
	return out, ex
}

// Corrections applied (policy §8b): a rectification that names the field
// and its new value is applied, once the team approves it, to every item
// held of the person; a new address moves the person to its key with the
// whole history. The next export shows the new value, and the old one is
// nowhere; the ledger records which field changed, never a value; the
// requester is told.
func TestCorrectionsApplied(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	correct := func(addr, field, value string) string {
		t.Helper()
		id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"rectification","field":"`+field+`","value":"`+value+`"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
			t.Fatalf("verify: %d %s", resp.StatusCode, out)
		}
		if field == "email" {
			// The new address confirms by its own link before the team
			// reviews it; the old one is told.
			ask := s.mailTo(t, value, "Please confirm this address (request "+id)
			if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(ask.Body.Text)), "", "", nil); resp.StatusCode != 200 {
				t.Fatalf("confirm the new address: %d %s", resp.StatusCode, out)
			}
			s.mailTo(t, addr, "Your address change (request "+id)
		}
		review := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(s.team) && strings.Contains(e.Subject, "Correction to review: request "+id)
		})
		if len(review) != 1 || !strings.Contains(review[0].Body.Text, "The "+field+" to become: "+value) {
			t.Fatalf("review email: %+v", review)
		}
		if out, err := s.privacyctl(t, "approve", id); err != nil {
			t.Fatalf("approve: %v %s", err, out)
		}
		return id
	}

	// Bad corrections: 400, nothing stored.
	bad := "bad-" + u + "@example.com"
	for _, body := range []string{`{"email":"` + bad + `","type":"rectification","field":"shoe_size","value":"44"}`,
		`{"email":"` + bad + `","type":"rectification","field":"phone","value":"call me"}`,
		`{"email":"` + bad + `","type":"rectification","field":"email","value":"` + bad + `"}`,
		`{"email":"` + bad + `","type":"rectification","field":"phone"}`,
		`{"email":"` + bad + `","type":"access","field":"phone","value":"1"}`} {
		if code, _ := s.file(t, body); code != 400 {
			t.Fatalf("%s: %d", body, code)
		}
	}
	if found := s.traces(t, bad); len(found) != 0 {
		t.Fatalf("a refused correction left traces in %v", found)
	}

	// The phone.
	pat := "pat-" + u + "@example.com"
	digits := fmt.Sprintf("%04d", time.Now().UnixNano()%10000)
	oldPhone, newPhone := "+44 20 7946 "+digits, "+44 20 7000 "+digits
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Pat","email":"`+pat+`","phone":"`+oldPhone+
		`","message":"PAT-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	id := correct(pat, "phone", newPhone)
	if done := s.mailTo(t, pat, "Your data is corrected"); !strings.Contains(done.Body.Text, "phone number") ||
		strings.Contains(done.Body.Text, newPhone) {
		t.Fatalf("correction email: %s", done.Body.Text)
	}
	s.waitNoTrace(t, 20*time.Second, oldPhone)
	out, _ := s.export(t, pat)
	if !strings.Contains(out, newPhone) || !strings.Contains(out, "PAT-"+u) {
		t.Fatalf("the export lacks the corrected phone: %.400s", out)
	}
	for _, where := range s.traces(t, newPhone) {
		if !strings.HasPrefix(where, "SubjectsTable/") {
			t.Errorf("the new phone is held in %s too", where)
		}
	}
	var fields string
	for _, it := range s.items(t, "LedgerTable") {
		b, _ := json.Marshal(it)
		if strings.Contains(string(b), id) && strings.Contains(string(b), "rectification_applied") {
			fields = string(b)
		}
	}
	if !strings.Contains(fields, `"phone"`) || strings.Contains(fields, newPhone) || strings.Contains(fields, oldPhone) {
		t.Fatalf("the ledger's record of the correction: %s", fields)
	}

	// The address: the person moves to the new address's key, history and all.
	oldAddr, newAddr := "old-"+u+"@example.com", "new-"+u+"@example.com"
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Mo","email":"`+oldAddr+`","message":"MO-`+u+
		`","marketing_opt_in":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, oldAddr, "We received your message")
	correct(oldAddr, "email", newAddr)
	if done := s.mailTo(t, newAddr, "Your data is corrected"); !strings.Contains(done.Body.Text, "email address") {
		t.Fatalf("correction email: %s", done.Body.Text)
	}
	s.waitNoTrace(t, 20*time.Second, oldAddr)
	out, ex := s.export(t, newAddr)
	var events []string
	for _, c := range ex.Consent {
		events = append(events, c["event"].(string))
	}
	history := strings.Join(events, ",")
	if !strings.Contains(out, "MO-"+u) || !strings.Contains(history, "inquiry_received") ||
		!strings.Contains(history, "rectification_applied") || !strings.Contains(history, "request_received") {
		t.Fatalf("the moved person's export: events %v, %.400s", events, out)
	}
}
