package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// The eighth review, as a hostile stranger, a rogue controller or a
// processor's mailbox holder, of what was merged after 1c5f641: Platform
// regions, processor mailboxes and lifts told to processors (#35), the
// lifecycle's transition table and one Overdue (#32). Each test below is
// a hole found, and fails on the code it was found in.

// liftedToProcessor is what the email telling a processor of a lift says
// (notify's processor_lifted): that it may process the person again.
const liftedToProcessor = "may process what you hold of them for us again"

// R8-1. Lift (ABUSE-CASES: "ending one request ends only its own"). A
// person with two restrictions in force (two requests, each told to the
// processors by email) is restricted until both are lifted: the desk's
// Lift ends only its own request's restriction (dynamo.Store.Lift). But
// the lift of the first tells every processor told of it that it "may
// process what you hold of them for us again" (Store.TellLift, called
// unconditionally after the lift), while the second restriction still
// holds the person out of every processing path. The processor resumes
// processing a person who is restricted, on the company's word.
func TestAbuseReview8LiftOfOneRestrictionTellsProcessorsToResume(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	contact := "privacy-" + u + "@drift.example"
	s.addMailProcessor(t, "Drift "+u, contact)
	addr := "two-restrictions-" + u + "@example.com"

	// Two restrictions of the person's own, on two grounds; each verified
	// (completed at once) and told to the processor.
	var ids []string
	for _, details := range []string{"my address is disputed", "the processing is unlawful"} {
		id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction","details":"`+details+`"}`)
		if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
			t.Fatalf("verify restriction %q: %d %s", details, resp.StatusCode, out)
		}
		ids = append(ids, id)
	}
	// The processor has been told of both (the second may come in its
	// mailbox's digest).
	told := func(id string) func(localtest.Email) bool {
		return func(e localtest.Email) bool { return e.To(contact) && strings.Contains(e.Body.Text, id) }
	}
	for _, id := range ids {
		if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, told(id)); len(got) != 1 {
			t.Fatalf("the processor was not told of restriction %s", id)
		}
	}

	// The team lifts the first; the second stays in force.
	if out, err := s.privacyctl(t, "lift", ids[0], "-reason", "The address is confirmed correct."); err != nil {
		t.Fatalf("lift %s: %v %s", ids[0], err, out)
	}
	s.mailTo(t, addr, "lifted")
	// The processor must not be told it may process the person again.
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(contact) && strings.Contains(e.Body.Text, liftedToProcessor)
	}); len(got) != 0 {
		t.Errorf("the processor was told it may process the person again while restriction %s is in force:\n%s\n%s",
			ids[1], got[0].Subject, got[0].Body.Text)
	}
	// The second restriction was indeed still in force: the team can lift it.
	if out, err := s.privacyctl(t, "lift", ids[1], "-reason", "The processing is lawful."); err != nil {
		t.Errorf("the second restriction was not in force after the first's lift: %v %s", err, out)
	}
}

// R8-2. Lift after a processor's removal. "processor remove" stops telling
// a processor ("what is queued for it still goes"; docs/operations.md):
// the team removes one whose contract has ended, or whose privacy inbox
// it no longer trusts. But the lift of a restriction told to it before
// its removal is mailed to it afterwards, with the person's address
// (Store.TellLift finds the delivery's contact_email and queues the
// email; neither it nor the mailer asks whether the processor is still
// registered): a new email of personal data to a party no longer the
// company's processor.
func TestAbuseReview8LiftMailsARemovedProcessor(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	contact := "privacy-" + u + "@former.example"
	proc, _ := s.registerProcessor(t, "-name", "Former "+u, "-contact", contact)
	addr := "removed-proc-" + u + "@example.com"
	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify restriction: %d %s", resp.StatusCode, out)
	}
	if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
		return e.To(contact) && strings.Contains(e.Body.Text, id)
	}); len(got) != 1 {
		t.Fatalf("the processor was not told of the restriction")
	}

	// The contract ends: the team stops telling it.
	if out, err := s.privacyctl(t, "processor", "remove", proc, "-reason", "contract ended"); err != nil {
		t.Fatalf("processor remove: %v %s", err, out)
	}
	// Later, the team lifts the restriction: the person is told.
	if out, err := s.privacyctl(t, "lift", id, "-reason", "The data is confirmed correct."); err != nil {
		t.Fatalf("lift: %v %s", err, out)
	}
	s.mailTo(t, addr, "lifted")
	// The former processor is told nothing new, least of all the address.
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(contact) && strings.Contains(e.Body.Text, liftedToProcessor)
	}); len(got) != 0 {
		t.Errorf("a processor removed before the lift was mailed it, with the person's address %v:\n%s\n%s",
			strings.Contains(got[0].Body.Text, addr), got[0].Subject, got[0].Body.Text)
	}
}

// R8-3. A lift lost to the restriction's own confirm link. A processor's
// mailbox holds the lift's email until its period ends (the restriction's
// email opened it). Meanwhile the processor does what that email asked:
// it applies the restriction and clicks its confirm link. The
// confirmation removes the person's address from the delivery
// (Store.ConfirmDelivery: state emailed, which TellLift left as it was),
// and the mailer sends nothing for a delivery without an address (the
// digest and the single email alike): the processor is never told that
// the restriction is lifted, and keeps the person restricted for good
// (GDPR Art. 19: each recipient is told of the restriction's end).
func TestAbuseReview8LiftLostToTheRestrictionsConfirmLink(t *testing.T) {
	t.Parallel()
	const every = 30 * time.Second
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"PROCESSOR_MAIL_EVERY": every.String()}, nil)
	u := localtest.Unique()
	contact := "privacy-" + u + "@drift.example"
	s.addMailProcessor(t, "Drift "+u, contact)
	addr := "confirm-then-lift-" + u + "@example.com"
	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"restriction"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify restriction: %d %s", resp.StatusCode, out)
	}
	got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
		return e.To(contact) && strings.Contains(e.Body.Text, id)
	})
	if len(got) != 1 {
		t.Fatalf("the processor was not told of the restriction")
	}
	opened := time.Now() // the mailbox's period began at most now
	link := processorLink.FindString(got[0].Body.Text)
	if link == "" {
		t.Fatalf("no confirm link in the restriction's email:\n%s", got[0].Body.Text)
	}

	// The team lifts it within the period: the lift's email waits.
	if out, err := s.privacyctl(t, "lift", id, "-reason", "The data is confirmed correct."); err != nil {
		t.Fatalf("lift: %v %s", err, out)
	}
	s.mailTo(t, addr, "lifted")
	// The processor confirms the restriction applied, as asked.
	if resp, out := s.do(t, "POST", s.path(t, link), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm the restriction: %d %s", resp.StatusCode, out)
	}
	if time.Since(opened) >= every {
		t.Skipf("the lift and the confirmation took %s, longer than the period: the machine is too loaded to tell", time.Since(opened))
	}
	// The lift must still reach the processor, after the period.
	if got := localtest.WaitEmails(t, s.svc, 1, every+40*time.Second, func(e localtest.Email) bool {
		return e.To(contact) && strings.Contains(e.Body.Text, liftedToProcessor)
	}); len(got) != 1 {
		// The digest ran (not merely late) when the mailbox no longer
		// holds the request.
		held := false
		for _, it := range s.items(t, "OpsTable") {
			if strings.HasPrefix(str(it, "pk"), "PMBOX#") && str(it, "sk") == "R#"+id {
				held = true
			}
		}
		t.Errorf("the processor was never told of the lift (%d emails) after it confirmed the restriction within its mailbox's period; "+
			"the mailbox still holds it: %v", len(got), held)
	}
}
