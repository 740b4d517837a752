package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// An objection to all processing on legitimate interest (§8d, GDPR Art.
// 21(1)): marketing stops and processing is restricted at once (Art.
// 18(1)(d)), the team reviews it, and either states compelling grounds
// (the requester reads them with the right to complain; the restriction
// ends) or upholds it, keeping the data restricted or erasing what is not
// needed. Through the gateway, the SES emulator and the operator command.
func TestObjectionToAllProcessing(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()

	// A scope on another right, or an unknown one: 400, nothing stored.
	for _, body := range []string{`{"email":"x-` + u + `@example.com","type":"erasure","scope":"all"}`,
		`{"email":"x-` + u + `@example.com","type":"objection","scope":"everything"}`} {
		if code, f := s.file(t, body); code != 400 || f.ID != "" {
			t.Fatalf("%s: %d %+v", body, code, f)
		}
	}
	if found := s.traces(t, "x-"+u+"@example.com"); len(found) != 0 {
		t.Fatalf("a refused request left traces in %v", found)
	}

	contact := func(addr, msg string) {
		t.Helper()
		if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"O","email":"`+addr+`","message":"`+msg+`"}`, nil); resp.StatusCode != 202 {
			t.Fatalf("contact: %d %s", resp.StatusCode, out)
		}
	}
	heldFor := func(id string) int {
		return len(localtest.Emails(t, s.svc, func(e localtest.Email) bool {
			return e.To(s.team) && strings.Contains(e.Subject, "Inquiry held") && strings.Contains(e.Body.Text, id)
		}))
	}
	// reaches sends an inquiry of addr carrying msg and reports whether it
	// reached the team itself (true) or only as a notice naming request
	// id, the one that restricts its sender's processing (false).
	reaches := func(addr, msg, id string) bool {
		t.Helper()
		before := heldFor(id)
		contact(addr, msg)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(s.team) && strings.Contains(e.Body.Text, msg) })) > 0 {
				return true
			}
			if heldFor(id) > before {
				return false
			}
		}
		t.Fatalf("neither the inquiry %s nor a held notice reached the team", msg)
		return false
	}
	object := func(who string) (addr, id string) {
		t.Helper()
		addr = who + "-" + u + "@example.com"
		contact(addr, "FIRST-"+who+"-"+u)
		id, verify, status := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"objection","scope":"all","details":"Stop following up my inquiry."}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
			t.Fatalf("verify: %d %s", resp.StatusCode, out)
		}
		if resp, out := s.do(t, "GET", s.path(t, status), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"scope":"all"`) ||
			!strings.Contains(out, `"awaiting_review"`) {
			t.Fatalf("status: %d %s", resp.StatusCode, out)
		}
		review := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
			return e.To(s.team) && strings.Contains(e.Subject, "Objection to review: request "+id)
		})
		if len(review) != 1 || !strings.Contains(review[0].Body.Text, "privacyctl uphold "+id) ||
			!strings.Contains(review[0].Body.Text, "Stop following up my inquiry.") {
			t.Fatalf("team review email: %+v", review)
		}
		return addr, id
	}

	// Overridden: the team states its grounds; the requester reads them
	// with the right to complain, and the restriction ends.
	ann, annID := object("ann")
	if reaches(ann, "HELD-ann-"+u, annID) {
		t.Fatal("an inquiry of a subject whose processing is restricted reached the team")
	}
	if out, err := s.privacyctl(t, "deny", annID, "-reason", "We must keep answering your open support contract."); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	denied := s.mailTo(t, ann, "We cannot carry out your request "+annID)
	if !strings.Contains(denied.Body.Text, "We must keep answering your open support contract.") ||
		!strings.Contains(denied.Body.Text, "supervisory authority") {
		t.Fatalf("denial email: %s", denied.Body.Text)
	}
	if !reaches(ann, "AFTER-ann-"+u, annID) {
		t.Fatal("processing is still restricted after the grounds were stated")
	}

	// Upheld, kept restricted; then the team lifts it and the requester is told.
	carl, carlID := object("carl")
	if out, err := s.privacyctl(t, "uphold", carlID); err != nil {
		t.Fatalf("uphold: %v %s", err, out)
	}
	if kept := s.mailTo(t, carl, "Your objection is upheld (request "+carlID); !strings.Contains(kept.Body.Text, "restricted") {
		t.Fatalf("upheld email: %s", kept.Body.Text)
	}
	if reaches(carl, "HELD-carl-"+u, carlID) {
		t.Fatal("an upheld objection's restriction did not hold")
	}
	if out, err := s.privacyctl(t, "lift", carlID, "-reason", "Our contract with you has ended."); err != nil {
		t.Fatalf("lift: %v %s", err, out)
	}
	s.mailTo(t, carl, "restriction of your data is lifted")

	// Upheld with erasure: everything of the person goes, the request
	// keeps no address once its email has gone; a second uphold is refused.
	bob, bobID := object("bob")
	if out, err := s.privacyctl(t, "uphold", bobID, "-erase", "-note", "Nothing of yours is left in our sales tools."); err != nil {
		t.Fatalf("uphold -erase: %v %s", err, out)
	}
	erased := s.mailTo(t, bob, "Your objection is upheld and your data erased")
	if !strings.Contains(erased.Body.Text, "Nothing of yours is left in our sales tools.") {
		t.Fatalf("erasure email: %s", erased.Body.Text)
	}
	s.waitNoTrace(t, 20*time.Second, bob, "FIRST-bob-"+u)
	if out, err := s.privacyctl(t, "uphold", bobID, "-erase"); err == nil {
		t.Fatalf("a second uphold: %s", out)
	}
}
