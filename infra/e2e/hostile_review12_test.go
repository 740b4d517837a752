package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Review 12 (hostile, OperatorFunction's role): PROC#CONTACT is a
// processor's contact as much as PROC#'s contact_email is. Once the
// processor is removed, everything still queued for it (the digest of
// the erasures its mailbox held, with each person's address) goes to
// PROC#CONTACT's address (Store.ProcessorContact). The role's
// ProcessorContactKept grant puts that item, and the ops stream's filter
// is pk "PROC#" exactly: the put is told to no one (no team email, no
// former contact, no processor_change_observed). The role writes it
// while the processor is registered (it changes nothing visible then);
// the team's own removal later, honest and told as a removal, sends the
// waiting erasures to the attacker's inbox. Fails today: the waiting
// erasure goes to the attacker, and neither the team inbox nor the
// former contact hears of the address.
func TestHostileReview12OperatorRoleRedirectsARemovedProcessorsMailQuietly(t *testing.T) {
	t.Parallel()
	const every = 20 * time.Second
	s := startStackOpts(t, localtest.Need(t), 1, map[string]string{"PROCESSOR_MAIL_EVERY": every.String()}, nil)
	ctx := context.Background()
	u := localtest.Unique()
	old, evil := "privacy-"+u+"@pardot.example", "intake-"+u+"@attacker.example"
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
	erase(before) // opens the mailbox's period
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(old) && strings.Contains(e.Body.Text, before)
	}); len(got) != 1 {
		t.Fatal("the first erasure did not reach the registered contact")
	}
	erase(waiting) // held for the period's digest

	// The role's quiet write: PROC#CONTACT, which the stream filter skips.
	cfg, ok := s.AWSAs("OperatorFunction")
	if !ok {
		t.Fatal("no OperatorFunction")
	}
	s.expectRefusals = true // since the fix the role may not put it: the hole closed at IAM, the mail checked below
	_, err := dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Tables["OpsTable"]),
		Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "PROC#CONTACT"},
			"sk": &types.AttributeValueMemberS{Value: proc}, "contact_email": &types.AttributeValueMemberS{Value: evil}}})
	refused := err != nil && strings.Contains(err.Error(), "AccessDenied")
	if err != nil && !refused {
		t.Fatalf("the role's PROC#CONTACT put: %v", err)
	}
	// The team's own removal, as the contract ends.
	if out, err := s.privacyctl(t, "processor", "remove", proc, "-reason", "contract ended"); err != nil {
		t.Fatalf("processor remove: %v %s", err, out)
	}
	if time.Since(start) >= every {
		t.Skipf("the removal came %s after the period opened: the machine is too loaded to tell", time.Since(start))
	}
	got := localtest.WaitEmails(t, s.svc, 1, every+40*time.Second, func(e localtest.Email) bool {
		return (e.To(old) || e.To(evil)) && strings.Contains(e.Body.Text, waiting)
	})
	redirected := len(got) == 1 && got[0].To(evil)
	if refused {
		// Nothing could be steered: the waiting erasure goes to the last
		// contact the mailer saw the processor have.
		if len(got) != 1 || !got[0].To(old) {
			t.Errorf("the erasure waiting for the removed processor did not reach its last contact %s: %d emails", old, len(got))
		}
		return
	}
	if redirected {
		t.Errorf("the erasure waiting for the removed processor, with the person's address, went to %s, an address only the operator role's quiet PROC#CONTACT put named", evil)
	}
	// Whatever the mail did, the address it would now go to was set
	// without the team or the former contact being told.
	s.idle(t)
	told := localtest.WaitEmails(t, s.svc, 1, 5*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && strings.Contains(e.Body.Text, evil)
	})
	if len(told) == 0 {
		t.Errorf("the team inbox was never told that %s's contact became %s (redirected: %v)", proc, evil, redirected)
	}
	if formerTold := localtest.WaitEmails(t, s.svc, 1, 5*time.Second, func(e localtest.Email) bool {
		return e.To(old) && strings.Contains(e.Subject, "was changed")
	}); len(formerTold) == 0 {
		t.Errorf("the former contact %s was never told its processor's contact changed", old)
	}
	var observed int
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == "processor_change_observed" && str(it, "ref") == proc && strings.Contains(itemText(t, it), "attacker.example") {
			observed++
		}
	}
	if observed == 0 {
		t.Errorf("no processor_change_observed names attacker.example for %s", proc)
	}
}

// Review 12 (hostile, OperatorFunction's role): one registry item the
// watch can never tell holds up every change after it. Watch.Handle stops
// a batch at the first registry change that fails, and the stream retries
// from there (MaximumRetryAttempts 1000, MaximumRecordAgeInSeconds 86400),
// then gives the batch to the failure queue, where privacyctl replay tells
// each item "as it now is" (what the change was is lost). The role writes
// a PROC# item whose sort key is 1,000 bytes (the ops table takes up to
// 1,024): its processor_change_observed entry's sort key (time, event, id,
// stream sequence) passes the ledger's 1,024 bytes, so RecordProcessorChange
// fails on every delivery. Then it changes a real processor's contact:
// every erasure goes to the new address at once, and the team inbox and
// the former contact are told nothing for as long as the poison holds the
// shard (a day), or ever, when the role sets the contact back before the
// replay. Fails today: neither is told within a minute.
func TestHostileReview12PoisonedRegistryRecordHoldsUpTheTelling(t *testing.T) {
	t.Parallel()
	s := startStackOpts(t, localtest.Need(t), 1, nil, nil)
	ctx := context.Background()
	u := localtest.Unique()
	old, evil := "privacy-"+u+"@drift.example", "inbox-"+u+"@attacker.example"
	proc, _ := s.registerProcessor(t, "-name", "Drift "+u, "-contact", old)
	// The approved registration is told (the watch works before the poison).
	if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && e.Subject == "Processor "+proc+": registered"
	}); len(got) != 1 {
		t.Fatal("the premise does not hold: the registration was not told")
	}
	cfg, ok := s.AWSAs("OperatorFunction")
	if !ok {
		t.Fatal("no OperatorFunction")
	}
	role := dynamodb.NewFromConfig(cfg)
	ops := aws.String(s.Tables["OpsTable"])
	poison := "p" + strings.Repeat("x", 999)
	if _, err := role.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "PROC#"}, "sk": &types.AttributeValueMemberS{Value: poison},
		"name": &types.AttributeValueMemberS{Value: "x"}}}); err != nil {
		t.Fatalf("the role's poison put: %v", err)
	}
	if _, err := role.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: ops, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "PROC#"}, "sk": &types.AttributeValueMemberS{Value: poison}}}); err != nil {
		t.Fatalf("the role's poison delete: %v", err)
	}
	if _, err := role.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: ops, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "PROC#"}, "sk": &types.AttributeValueMemberS{Value: proc}},
		UpdateExpression: aws.String("SET contact_email = :c, contact_changed_at = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: evil},
			":at": &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)}}}); err != nil {
		t.Fatalf("the role's contact update: %v", err)
	}
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, evil) {
		t.Fatalf("the premise does not hold: the contact is not changed:\n%s", out)
	}
	if got := localtest.WaitEmails(t, s.svc, 1, 60*time.Second, func(e localtest.Email) bool {
		return e.To(s.team) && e.Subject == "Processor "+proc+": privacy contact address changed"
	}); len(got) != 1 {
		t.Errorf("the team inbox was not told within a minute that %s's contact became %s: a registry item the watch cannot record holds the ops stream", proc, evil)
	}
	if got := localtest.WaitEmails(t, s.svc, 1, 5*time.Second, func(e localtest.Email) bool {
		return e.To(old) && strings.Contains(e.Subject, "was changed")
	}); len(got) != 1 {
		t.Errorf("the former contact %s was not told within a minute", old)
	}
	if strings.Contains(s.logs.String(), "registry change failed") {
		t.Logf("the mailer logged the poison's failure (the stream retries it)")
	}
}
