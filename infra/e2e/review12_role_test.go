package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Review 12 (role against code), the processors' registry watched: the
// ops table's stream tells every change of a PROC# item, whoever wrote it,
// and OpsStream's filter drops every other key, PROC#CONTACT included
// (TestOpsStreamFilter holds that). But the mailer reads PROC#CONTACT: for
// a removed processor, what still waits for it (its mailbox's digest, a
// retry) goes to the address under PROC#CONTACT/<id>
// (dynamo.Store.ProcessorContact, mailer.contact), and OperatorFunction's
// role may put that item (ProcessorContactKept: PutItem of contact_email,
// no ask, no second member). So the role alone still redirects a
// processor's mail, with people's addresses in it, and nobody is told:
// the team removes a processor whose mailbox holds an erasure; the role
// then puts PROC#CONTACT with its own address; the waiting erasure is
// mailed there. Fails on 375a984: the waiting erasure reaches the role's
// address and no email to the team names it.
func TestReview12RemovedProcessorsMailRedirectedByTheOperatorRoleAlone(t *testing.T) {
	t.Parallel()
	const every = 20 * time.Second
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"PROCESSOR_MAIL_EVERY": every.String()}, nil)
	ctx := context.Background()
	u := localtest.Unique()
	old, evil := "privacy-"+u+"@pardot.example", "collect-"+u+"@attacker.example"
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

	// The team ends the contract (told: a removal).
	if out, err := s.privacyctl(t, "processor", "remove", proc, "-reason", "contract ended"); err != nil {
		t.Fatalf("processor remove: %v %s", err, out)
	}
	// The role alone: the contact kept for the removed processor.
	cfg, ok := s.AWSAs("OperatorFunction")
	if !ok {
		t.Fatal("no OperatorFunction")
	}
	role := dynamodb.NewFromConfig(cfg)
	s.expectRefusals = true // since the fix the role may not put it (ProcessorContactKept is gone)
	_, err := role.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Tables["OpsTable"]), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "PROC#CONTACT"}, "sk": &types.AttributeValueMemberS{Value: proc},
		"contact_email": &types.AttributeValueMemberS{Value: evil}}})
	refused := err != nil && strings.Contains(err.Error(), "AccessDenied")
	if err != nil && !refused {
		t.Fatalf("the role's put of PROC#CONTACT (ProcessorContactKept): %v", err)
	}
	if time.Since(start) >= every {
		t.Skipf("the change came %s after the period opened, longer than the period: the machine is too loaded to tell", time.Since(start))
	}
	got := localtest.WaitEmails(t, s.svc, 1, every+40*time.Second, func(e localtest.Email) bool {
		return (e.To(old) || e.To(evil)) && strings.Contains(e.Body.Text, waiting)
	})
	redirected := false
	for _, e := range got {
		redirected = redirected || e.To(evil)
	}
	if !redirected {
		// The role's write did not steer the mail: it went to the last
		// contact the mailer saw (the one registered).
		if !slices.ContainsFunc(got, func(e localtest.Email) bool { return e.To(old) }) {
			t.Errorf("the erasure waiting for the removed processor reached neither %s nor anyone (refused put: %v)", old, refused)
		}
		return
	}
	told := localtest.WaitEmails(t, s.svc, 1, 10*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.Contains(e.Subject+e.Body.Text, evil)
	})
	if len(told) == 0 {
		t.Errorf("the erasure waiting for the removed processor %s, with the person's address, was mailed to %s, "+
			"an address OperatorFunction's role alone set (PROC#CONTACT), and the team inbox was told nothing of it", proc, evil)
	}
}
