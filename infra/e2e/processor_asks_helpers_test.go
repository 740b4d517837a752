package e2e

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local"
)

// secondMember is the privacy team's other development user
// (privacy-team, holding PrivacyTeamPolicy as dpo does): who approves
// what dpo, privacyctl's default identity, asks.
var secondMember = local.DevIdentities()[0]

var (
	askedID      = regexp.MustCompile(`processor approve (\S+)`)
	askedProcess = regexp.MustCompile(`registering processor (\S+)`)
)

// askOf is the ask id in privacyctl's answer to an ask.
func askOf(t *testing.T, out string) string {
	t.Helper()
	m := askedID.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no ask in:\n%s", out)
	}
	return m[1]
}

// approveAsk approves the ask privacyctl answered with out, as the
// second member, and returns the approval's answer.
func (s *stack) approveAsk(t *testing.T, out, reason string) string {
	t.Helper()
	got, err := s.privacyctlAs(t, &secondMember, "processor", "approve", askOf(t, out), "-reason", reason)
	if err != nil {
		t.Fatalf("processor approve as %s: %v %s", secondMember.ARN, err, got)
	}
	return got
}

// registerProcessor asks privacyctl processor add with args (as dpo),
// has the second member approve it, and returns the processor's id and
// the ask's answer.
func (s *stack) registerProcessor(t *testing.T, args ...string) (id, asked string) {
	t.Helper()
	out, err := s.privacyctl(t, append([]string{"processor", "add"}, args...)...)
	m := askedProcess.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("processor add %v: %v %s", args, err, out)
	}
	s.approveAsk(t, out, "checked the contract")
	return m[1], out
}

// changeContact asks to change processor id's contact (as dpo) and has
// the second member approve it.
func (s *stack) changeContact(t *testing.T, id, contact, reason string) {
	t.Helper()
	out, err := s.privacyctl(t, "processor", "contact", id, "-contact", contact, "-reason", reason)
	if err != nil {
		t.Fatalf("processor contact: %v %s", err, out)
	}
	s.approveAsk(t, out, "called their DPO on the number in the contract")
}

// approveWaiting approves, as privacyctl's dpo, every processor ask
// waiting (those a console member asked), and returns how many.
func (s *stack) approveWaiting(t *testing.T) int {
	t.Helper()
	out, err := s.privacyctl(t, "processor", "asks")
	if err != nil {
		t.Fatalf("processor asks: %v %s", err, out)
	}
	var asks []struct {
		ID    string `json:"id"`
		Stale string `json:"stale"`
	}
	if err := json.Unmarshal([]byte(out), &asks); err != nil {
		t.Fatalf("processor asks: %v %s", err, out)
	}
	for _, a := range asks {
		if a.Stale != "" {
			continue
		}
		if out, err := s.privacyctl(t, "processor", "approve", a.ID, "-reason", "checked the contract"); err != nil {
			t.Fatalf("processor approve %s: %v %s", a.ID, err, out)
		}
	}
	return len(asks)
}
