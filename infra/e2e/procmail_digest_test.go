package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Mail bomb, a processor's mailbox (#35 item 4, left open by the seventh
// review): every erasure, restriction or rectification emailed each
// processor told by email its own email, so whoever files within the
// per-source limits, for addresses they control, made the company write
// to a processor's privacy inbox as often as they liked. Now a processor
// gets one email a period (PROCESSOR_MAIL_EVERY, here 30 s): the first
// request at once, the others of the period in one digest at its end,
// each with its own reference and confirm link, and each still
// confirmable. On the code before, each of the four erasures below was an
// email of its own (four within the period).
func TestAbuseProcessorMailboxIsNotFlooded(t *testing.T) {
	t.Parallel()
	const every = 30 * time.Second
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"PROCESSOR_MAIL_EVERY": every.String()}, nil)
	u := localtest.Unique()
	contact := "privacy-" + u + "@pardot.example"
	s.addMailProcessor(t, "Pardot "+u, contact)
	start := time.Now()
	ids := map[string]bool{}
	for i := range 4 {
		addr := "flood-" + u + "-" + string(rune('a'+i)) + "@example.com"
		id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("verify %s: %d %s", addr, resp.StatusCode, out)
		}
		ids[id] = true
	}
	if time.Since(start) >= every {
		t.Skipf("the filings took %s, longer than the period: the machine is too loaded to tell", time.Since(start))
	}
	// Within the period: the first erasure's email, nothing more.
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(contact) }); len(got) != 1 {
		t.Fatalf("%d emails to the processor within its period, want 1", len(got))
	}
	// After it: one digest of the other three.
	localtest.WaitEmails(t, s.svc, 2, every+30*time.Second, func(e localtest.Email) bool { return e.To(contact) })
	s.idle(t) // a third would show by now
	got := s.mailsTo(t, contact)
	if len(got) != 2 {
		t.Fatalf("%d emails to the processor for 4 requests, want 2 (one, then one digest)", len(got))
	}
	digest := got[1]
	if !strings.Contains(digest.Subject, "3 to carry out (erasure)") || !strings.Contains(digest.Body.Text, "at most once in 30 seconds") {
		t.Errorf("the digest:\n%s\n%s", digest.Subject, digest.Body.Text)
	}
	// Every request is told, once, with a link that confirms it.
	var links []string
	for _, m := range got {
		for _, l := range processorLink.FindAllStringSubmatch(m.Body.Text, -1) {
			if !ids[l[1]] {
				t.Errorf("a link names request %s, not one of the four (or twice)", l[1])
			}
			delete(ids, l[1])
			links = append(links, l[0])
		}
	}
	if len(ids) != 0 || len(links) != 4 {
		t.Fatalf("%d links; requests not told: %v", len(links), ids)
	}
	for _, l := range links {
		if resp, out := s.do(t, "POST", s.path(t, l), "", "", nil); resp.StatusCode != 200 {
			t.Errorf("confirm %s: %d %s", l, resp.StatusCode, out)
		}
	}
	done := 0
	for _, it := range s.items(t, "RequestsTable") {
		if strings.HasPrefix(str(it, "sk"), "RCPT#") && str(it, "state") == privacy.RecipientCompleted {
			done++
		}
	}
	if done != 4 {
		t.Errorf("%d deliveries confirmed, want 4", done)
	}
	// The mailbox's items name no one.
	for _, it := range s.items(t, "OpsTable") {
		if strings.HasPrefix(str(it, "pk"), "PMBOX#") && strings.Contains(str(it, "sk")+str(it, "pk"), "@") {
			t.Errorf("a mailbox item holds an address: %v", it)
		}
	}
}

// Art. 19 covers the end of a restriction too: a processor told by email
// of a restriction is told, by the same path (its mailbox's period
// included), when the team lifts it: the address it holds the person by,
// that it may process again, and nothing to confirm; the delivery keeps
// the address no longer than the email. On the code before, the lift was
// told to the requester only (the processor never heard of it).
func TestProcessorToldOfTheLift(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	contact := "privacy-" + u + "@drift.example"
	s.addMailProcessor(t, "Drift "+u, contact)
	addr := "lift-" + u + "@example.com"
	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify restriction: %d %s", resp.StatusCode, out)
	}
	s.mailTo(t, contact, "restriction")
	if out, err := s.privacyctl(t, "lift", id, "-reason", "The data is confirmed correct."); err != nil {
		t.Fatalf("lift: %v %s", err, out)
	}
	m := s.mailTo(t, contact, "restriction lifted")
	if !strings.Contains(m.Body.Text, addr) || !strings.Contains(m.Body.Text, "may process what you hold of them for us again") ||
		processorLink.MatchString(m.Body.Text) || strings.Contains(m.Body.Text, "confirmed correct") {
		t.Errorf("the lift's email to the processor:\n%s\n%s", m.Subject, m.Body.Text)
	}
	// Told: the delivery keeps the address no longer.
	deadline := time.Now().Add(20 * time.Second)
	for {
		kept := false
		for _, it := range s.items(t, "RequestsTable") {
			if str(it, "pk") == "R#"+id && strings.HasPrefix(str(it, "sk"), "RCPT#") && str(it, "identity_value") != "" {
				kept = true
			}
		}
		if !kept {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery keeps the address after the lift's email")
		}
		time.Sleep(500 * time.Millisecond)
	}
}
