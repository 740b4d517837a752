package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Children (policy §2): the signup records the age confirmation; a parent
// or guardian asks for a child's data or its erasure naming the child's
// address and their own: the request is due in 7 days; the parent
// confirms their own address by its link (the email names no child), then
// the team asks for and weighs the proof (nothing reaches the child's
// inbox, nothing of the child changes before); approval erases, and the
// parent is answered at their own address; a denial changes nothing.
func TestParentOrGuardian(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	child, parent := "child-"+u+"@example.com", "parent-"+u+"@example.com"

	// The child signed up (the consent sentence carries the age
	// confirmation, recorded in the ledger) and wrote to us.
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+child+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	link := confirmLink.FindString(s.mailTo(t, child, "Please confirm your subscription").Body.Text)
	if resp, _ := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 {
		t.Fatal("confirm")
	}
	var ageConfirmed bool
	for _, it := range s.items(t, "LedgerTable") {
		b, _ := json.Marshal(it)
		if str(it, "event") == "subscribe_requested" && strings.Contains(string(b), `"age_confirmed"`) &&
			strings.Contains(string(b), "newsletter-consent-2026-12") {
			ageConfirmed = true
		}
	}
	if !ageConfirmed {
		t.Fatal("the signup's ledger entry lacks the age confirmation")
	}
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"C","email":"`+child+`","message":"CHILD-`+u+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, child, "We received your message")

	// Bad input: 400, nothing stored.
	for _, body := range []string{`{"email":"` + child + `","type":"objection","relationship":"parent_or_guardian","parent_email":"` + parent + `"}`,
		`{"email":"` + child + `","type":"erasure","relationship":"parent_or_guardian"}`,
		`{"email":"` + child + `","type":"erasure","relationship":"parent_or_guardian","parent_email":"` + child + `"}`,
		`{"email":"` + child + `","type":"erasure","parent_email":"` + parent + `"}`} {
		if code, _ := s.file(t, body); code != 400 {
			t.Fatalf("%s: %d", body, code)
		}
	}

	code, f := s.file(t, `{"email":"`+child+`","type":"erasure","relationship":"parent_or_guardian","parent_email":"`+parent+`"}`)
	if code != 202 || f.Status != "identity_unverified" {
		t.Fatalf("file: %d %+v", code, f)
	}
	if due, err := time.Parse(time.RFC3339, f.DueAt); err != nil || time.Until(due) > 7*24*time.Hour || time.Until(due) < 6*24*time.Hour {
		t.Fatalf("due %q, want 7 days", f.DueAt)
	}
	// The parent confirms their own address first; the email names no
	// child (its address was typed by the filer).
	ack := s.mailTo(t, parent, "Your request "+f.ID+" for your child's data")
	if strings.Contains(ack.Body.Text, child) || !verifyLink.MatchString(ack.Body.Text) {
		t.Fatalf("the parent's acknowledgement: %s", ack.Body.Text)
	}
	// Until the team accepted the parent's proof nothing changes for the
	// child: not restricted, still mailed.
	if res := s.campaign(t, "kids-"+u, "newsletter"); res["skipped_restricted"] != 0 || res["sent"] != 1 {
		t.Fatalf("campaign before the team's review: %v", res)
	}
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(ack.Body.Text)), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("the parent confirms their address: %d %s", resp.StatusCode, out)
	}
	review := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.Contains(e.Subject, "A parent's or guardian's request to review: request "+f.ID)
	})
	if len(review) != 1 || !strings.Contains(strings.Join(review[0].ReplyTo, ","), parent) || !strings.Contains(review[0].Body.Text, child) {
		t.Fatalf("team review: %+v", review)
	}
	s.idle(t)
	if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(child) && strings.Contains(e.Subject, f.ID) })); n != 0 {
		t.Fatal("the child's inbox was mailed about the parent's request")
	}
	if by := s.restrictionOf(t, child); len(by) != 0 {
		t.Fatalf("the child is restricted by %v before the team accepted the proof", by)
	}

	// Approved (the team accepted the proof): the child's data is erased;
	// the parent is told.
	if out, err := s.privacyctl(t, "approve", f.ID); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	if done := s.mailTo(t, parent, "Your erasure request "+f.ID); done.Subject == "" {
		t.Fatal("no erasure email to the parent")
	}
	s.waitNoTrace(t, 20*time.Second, child, "CHILD-"+u, parent)

	// A second child, whose parent's claim does not hold: denied; nothing
	// of the child was ever restricted.
	other := "other-" + u + "@example.com"
	code, g := s.file(t, `{"email":"`+other+`","type":"access","relationship":"parent_or_guardian","parent_email":"`+parent+`"}`)
	if code != 202 {
		t.Fatalf("file: %d", code)
	}
	gack := s.mailTo(t, parent, "Your request "+g.ID+" for your child's data")
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(gack.Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("the parent confirms their address: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "deny", g.ID, "-reason", "We could not confirm that you are the parent or guardian."); err != nil {
		t.Fatalf("deny: %v %s", err, out)
	}
	if d := s.mailTo(t, parent, "We cannot carry out your request "+g.ID); !strings.Contains(d.Body.Text, "could not confirm") {
		t.Fatalf("denial: %s", d.Body.Text)
	}
	if by := s.restrictionOf(t, other); len(by) != 0 {
		t.Fatalf("a parent's denied request restricted the child (by %v)", by)
	}
}
