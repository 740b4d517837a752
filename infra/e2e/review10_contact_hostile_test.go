package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/opendsr/opendsrtest"
)

// Review 10 (hostile insider). One member, through one IAM user holding
// PrivacyTeamPolicy, gets a processor's contact change through alone by
// approving it as an AWS federated user. sts:GetFederationToken, called
// with an IAM user's own long-term keys, returns credentials whose
// principal is arn:aws:sts::<account>:federated-user/<Name>, Name chosen
// by the caller at each call (any of [\w+=,.@-], 2 to 32 characters), with
// the permissions of the calling user intersected with the session policy
// passed, so the same person can sign POST /v1/operator as any number of
// federated-user names, and API Gateway hands OperatorFunction that ARN as
// userArn. operator.Member collapses only assumed-role sessions to one
// member: the IAM user dpo and federated-user/dpo, or federated-user/alice
// and federated-user/alice-2, are two members to it, so the asker approves
// their own ask and every later erasure, rectification and restriction
// with each person's address goes to the mailbox they chose. The local
// gateway's development users are IAM users, so the test hands
// OperatorFunction the event API Gateway hands it for such a caller
// (through the gateway's invoke route), as TestAbuseProcessorContactOneMemberAlone
// does for the assumed role's session names. Fails now: both approvals
// are 200 and the contact changes.
func TestReview10FederatedUserApprovesOwnProcessorAsk(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old := "privacy-" + u + "@pardot.example"
	evil, evil2 := "inbox-"+u+"@attacker.example", "mine-"+u+"@attacker-two.example"
	proc, _ := s.registerProcessor(t, "-name", "Pardot "+u, "-contact", old)
	askID := regexp.MustCompile(`"id":"([^"]+)","kind"`)

	// dpo (the IAM user) asks with privacyctl, then approves as a
	// federated user it minted itself with GetFederationToken.
	out, err := s.privacyctl(t, "processor", "contact", proc, "-contact", evil, "-reason", "their DPO moved "+u)
	if err != nil || !strings.Contains(out, "needs a second team member") {
		t.Fatalf("dpo's ask: %v %s", err, out)
	}
	own := askOf(t, out)
	if status, body := s.operatorOn(t, "arn:aws:sts::000000000000:federated-user/dpo", "processor approve", own,
		map[string]any{"reason": "checked it myself"}); status != 403 {
		t.Errorf("dpo approved their own ask as federated-user/dpo: %d %s", status, body)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); strings.Contains(out, evil) {
		t.Errorf("one member (IAM user dpo, and its own federated user) changed the contact alone:\n%s", out)
	}

	// One person, two federated-user names of one IAM user.
	fed := "arn:aws:sts::000000000000:federated-user/"
	status, body := s.operatorOn(t, fed+"alice", "processor contact", proc, map[string]any{"contact": evil2, "reason": "moved again"})
	m := askID.FindStringSubmatch(body)
	if status != 200 || m == nil {
		t.Fatalf("alice's ask: %d %s", status, body)
	}
	if status, body := s.operatorOn(t, fed+"alice-2", "processor approve", m[1], map[string]any{"reason": "looks right"}); status != 403 {
		t.Errorf("alice approved her own ask under another federated-user name: %d %s", status, body)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); strings.Contains(out, evil2) {
		t.Errorf("one member (federated users alice and alice-2) changed the contact alone:\n%s", out)
	}
	// What the change is for: the next erasure's address goes to the
	// mailbox one member chose.
	if strings.Contains(s.ctlList(t), evil) || strings.Contains(s.ctlList(t), evil2) {
		victim := "victim-" + u + "@example.com"
		_, verify, _ := s.fileAndOpen(t, victim, `{"email":"`+victim+`","type":"erasure"}`)
		s.do(t, "POST", s.path(t, verify), "", "", nil)
		for _, a := range []string{evil, evil2} {
			if got := localtest.WaitEmails(t, s.svc, 1, 5*time.Second, func(e localtest.Email) bool {
				return e.To(a) && strings.Contains(e.Body.Text, victim)
			}); len(got) > 0 {
				t.Errorf("the erasure of %s, with their address, went to %s, which one member chose", victim, a)
			}
		}
	}
}

// ctlList is privacyctl processor list's output.
func (s *stack) ctlList(t *testing.T) string {
	t.Helper()
	out, _ := s.privacyctl(t, "processor", "list")
	return out
}

// Review 10 (hostile insider). What the approver checks is not where the
// people's identities go: a registration's OpenDSR URL may carry
// userinfo, so "https://opendsr.pardot.example@pardot-dsr.attacker.example/opendsr/v2"
// reads as Pardot's endpoint on the Processors page and in processor asks
// (the approver confirms with Pardot, by a channel the team knows, that
// opendsr.pardot.example is theirs) while its host, where discovery was
// fetched and every later erasure's identity is sent, is the asker's
// (they hold its signing key and give its certificate). AddProcessor
// checks only that the URL has a host. Here the asker's server is the
// test's OpenDSR processor on 127.0.0.1. Fails now: the ask is accepted,
// listed under the deceptive URL, and once approved the processor's
// endpoint is the asker's host.
func TestReview10RegistrationURLHidesItsHostFromTheApprover(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	recv := opendsrtest.New(t) // the asker's server
	cert := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(cert, recv.Certificate, 0o600); err != nil {
		t.Fatal(err)
	}
	shown := "http://opendsr.pardot.example"
	deceptive := shown + "@" + strings.TrimPrefix(recv.URL, "http://")
	out, err := s.privacyctl(t, "processor", "add", "-name", "Pardot "+u, "-url", deceptive, "-credentials", "site:pw",
		"-certificate", cert, "-reason", "Pardot's OpenDSR endpoint, per their DPA")
	if err == nil {
		t.Errorf("a registration whose URL hides its host behind userinfo was asked: %s", out)
		asks, _ := s.privacyctl(t, "processor", "asks")
		if strings.Contains(asks, shown+"@") {
			t.Logf("the approver is shown: %s", asks)
		}
		s.approveAsk(t, out, "Pardot confirmed opendsr.pardot.example is their endpoint")
		if list, _ := s.privacyctl(t, "processor", "list"); strings.Contains(list, shown+"@127.0.0.1") {
			t.Errorf("registered: every erasure's identity now goes to the asker's host 127.0.0.1, not to opendsr.pardot.example:\n%s", list)
		}
	}
}
