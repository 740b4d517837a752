package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Review 9 of the merge of branch lifts (#35's gaps A, B, C), as a hostile
// stranger and role versus code. Each test below is a hole found, and
// fails on the code it was found in.

// R9L-1. A contact address the team retired comes back when the
// processor is removed. The team changes a processor's privacy contact
// (privacyctl processor contact: "its inbox changed hands"), then removes
// the processor ("what is queued for it still goes"). The mailer reads the
// contact when it sends (Store.ProcessorContact), but a removed processor
// has no PROC# item, so it falls back to the address the delivery kept
// when it was queued (mailer.contact: cmp.Or(registered, kept)): the
// address registered before the change. The erasure waiting in the
// processor's mailbox, with the person's address, is mailed to the inbox
// the team moved away from.
func TestAbuseReview9RemovedProcessorsWaitingMailGoesToItsRetiredContact(t *testing.T) {
	t.Parallel()
	const every = 20 * time.Second
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"PROCESSOR_MAIL_EVERY": every.String()}, nil)
	u := localtest.Unique()
	old, moved := "privacy-"+u+"@pardot.example", "dpo-"+u+"@pardot-privacy.example"
	proc, _ := s.registerProcessor(t, "-name", "Pardot "+u, "-contact", old)
	erase := func(addr string) {
		t.Helper()
		_, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("verify the erasure of %s: %d %s", addr, resp.StatusCode, out)
		}
	}
	before, waiting := "before-"+u+"@example.com", "waiting-"+u+"@example.com"
	start := time.Now()
	erase(before) // emailed at once: it opens the mailbox's period
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(old) && strings.Contains(e.Body.Text, before)
	}); len(got) != 1 {
		t.Fatal("the first erasure did not reach the registered contact")
	}
	erase(waiting) // held for the period's digest

	// The old inbox changed hands: the team moves the contact, then ends
	// the contract.
	s.changeContact(t, proc, moved, "their inbox changed hands "+u)
	if out, err := s.privacyctl(t, "processor", "remove", proc, "-reason", "contract ended"); err != nil {
		t.Fatalf("processor remove: %v %s", err, out)
	}
	if time.Since(start) >= every {
		t.Skipf("the change came %s after the period opened, longer than the period: the machine is too loaded to tell", time.Since(start))
	}
	// The waiting erasure still goes (what is queued for a removed
	// processor still goes), to the address the team set, never to the
	// one it retired.
	got := localtest.WaitEmails(t, s.svc, 1, every+40*time.Second, func(e localtest.Email) bool {
		return (e.To(old) || e.To(moved)) && strings.Contains(e.Body.Text, waiting)
	})
	for _, e := range got {
		if e.To(old) {
			t.Errorf("the erasure waiting when the contact changed was mailed, with the person's address, to the retired contact %s:\n%s",
				old, e.Body.Text)
		}
	}
	if len(got) != 1 || !got[0].To(moved) {
		t.Errorf("the waiting erasure did not reach the contact set by the team (%d emails)", len(got))
	}
}
