package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Issue #35, gap B: the team changes a processor's privacy contact
// address (privacyctl processor contact, with why). An erasure emailed
// before the change went to the old address; one waiting in the
// processor's mailbox for its period's digest when the address changed
// goes to the new one, and so does the next erasure; the old address is
// mailed nothing more, least of all the people's addresses. The ledger
// names the new domain, never the address; the old address is told of
// the change, with nothing of any person. The change is asked by one
// member and approved by another (TestAbuseProcessorContactOneMember has
// the refusals). Abuse: the console's route without a session is refused
// (401) and changes nothing; a privacyctl change without a reason or to a
// non-address is refused.
func TestProcessorContactChanged(t *testing.T) {
	t.Parallel()
	const every = 20 * time.Second
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"PROCESSOR_MAIL_EVERY": every.String()}, nil)
	u := localtest.Unique()
	old, moved := "privacy-"+u+"@pardot.example", "dpo-"+u+"@pardot-privacy.example"
	proc, _ := s.registerProcessor(t, "-name", "Pardot "+u, "-contact", old)
	erase := func(addr string) string {
		t.Helper()
		id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("verify the erasure of %s: %d %s", addr, resp.StatusCode, out)
		}
		return id
	}
	before, waiting, after := "before-"+u+"@example.com", "waiting-"+u+"@example.com", "after-"+u+"@example.com"
	start := time.Now()
	erase(before) // emailed at once: it opens the mailbox's period
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(old) && strings.Contains(e.Body.Text, before)
	}); len(got) != 1 {
		t.Fatal("the first erasure did not reach the registered contact")
	}
	erase(waiting) // held for the period's digest

	// Abuse: the console's form without a session is refused before any
	// function runs, and changes nothing.
	form := url.Values{"action": {"contact"}, "id": {proc}, "contact": {"evil-" + u + "@attacker.example"}, "reason": {"takeover"}}
	if resp, body := s.do(t, "POST", "/console/processors", "application/x-www-form-urlencoded", form.Encode(), nil); resp.StatusCode != 401 {
		t.Errorf("the console's contact change without a session: %d %s", resp.StatusCode, body)
	}
	// Refused: no reason, not an address.
	for _, args := range [][]string{{"-contact", moved}, {"-contact", "not-an-address", "-reason", "moved"}} {
		if out, err := s.privacyctl(t, append([]string{"processor", "contact", proc}, args...)...); err == nil {
			t.Errorf("processor contact %v was taken: %s", args, out)
		}
	}
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, "mailto:"+old) {
		t.Fatalf("the contact changed by a refused request:\n%s", out)
	}

	// The team's change, with why.
	s.changeContact(t, proc, moved, "their DPO moved "+u)
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, "mailto:"+moved) || strings.Contains(out, old) {
		t.Fatalf("processor list after the change:\n%s", out)
	}
	if time.Since(start) >= every {
		t.Skipf("the change came %s after the period opened, longer than the period: the machine is too loaded to tell", time.Since(start))
	}
	// The waiting request's digest goes to the new address.
	if got := localtest.WaitEmails(t, s.svc, 1, every+40*time.Second, func(e localtest.Email) bool {
		return e.To(moved) && strings.Contains(e.Body.Text, waiting)
	}); len(got) != 1 {
		t.Error("the erasure waiting in the mailbox did not reach the new contact")
	}
	// And the next erasure.
	erase(after)
	if got := localtest.WaitEmails(t, s.svc, 1, every+40*time.Second, func(e localtest.Email) bool {
		return e.To(moved) && strings.Contains(e.Body.Text, after)
	}); len(got) != 1 {
		t.Error("the erasure after the change did not reach the new contact")
	}
	// The old address got the first erasure's email and the notice of the
	// change (the new domain, nothing of any person), nothing more.
	localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(old) && strings.Contains(e.Subject, "was changed") })
	got := s.mailsTo(t, old)
	notices := 0
	for _, e := range got {
		switch {
		case strings.Contains(e.Body.Text, before) && !strings.Contains(e.Subject, "was changed"):
		case strings.Contains(e.Subject, "was changed"):
			notices++
			if !strings.Contains(e.Body.Text, "pardot-privacy.example") || strings.Contains(e.Body.Text, moved) ||
				strings.Contains(e.Body.Text+e.Body.HTML, u+"@example.com") {
				t.Errorf("the notice to the old contact:\n%s", e.Body.Text)
			}
		default:
			t.Errorf("to the old contact after the change: %s\n%s", e.Subject, e.Body.Text)
		}
	}
	if len(got) != 2 || notices != 1 {
		t.Errorf("%d emails to the old contact (%d notices), want the first erasure's and one notice of the change", len(got), notices)
	}
	// The ledger names the change, its domain, never an address.
	changed := 0
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") != "processor_contact_changed" {
			continue
		}
		changed++
		if text := itemText(t, it); !strings.Contains(text, "pardot-privacy.example") || strings.Contains(text, moved) ||
			strings.Contains(text, old) || !strings.Contains(text, "their DPO moved "+u) {
			t.Errorf("the ledger's entry: %s", text)
		}
	}
	if changed != 1 {
		t.Errorf("%d processor_contact_changed entries, want 1", changed)
	}
	// The stream tells the change too (review 10): the team inbox once,
	// with the new address and the former domain; the ledger's observed
	// entry, domains only. The former contact's one notice above is the
	// stream's (the approval writes none), so it is not told twice.
	subject := "Processor " + proc + ": privacy contact address changed"
	localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(s.team) && e.Subject == subject })
	told := 0
	for _, e := range s.mailsTo(t, s.team) {
		if strings.HasPrefix(e.Subject, "Processor "+proc+":") && e.Subject != "Processor "+proc+": registered" {
			told++
			if e.Subject != subject || !strings.Contains(e.Body.Text, moved) || !strings.Contains(e.Body.Text, "pardot.example") ||
				strings.Contains(e.Body.Text, u+"@example.com") {
				t.Errorf("the team's email of the change: %s\n%s", e.Subject, e.Body.Text)
			}
		}
	}
	if told != 1 {
		t.Errorf("%d team emails of the change, want 1", told)
	}
	observed := map[string]int{}
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == "processor_change_observed" && str(it, "ref") == proc {
			observed[detailValue(it, "change")]++
			if text := itemText(t, it); strings.Contains(text, moved) || strings.Contains(text, old) {
				t.Errorf("the observed entry holds an address: %s", text)
			}
		}
	}
	if observed["added"] != 1 || observed["contact_changed"] != 1 || len(observed) != 2 {
		t.Errorf("observed entries %v, want the registration and the contact change once each", observed)
	}
}
