package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Review 10 (role against code), the two-person rule on processors: the
// rule lives in OperatorFunction's code alone. Its role still writes a
// registered processor's contact directly (ControllersAndProcessors:
// UpdateItem and PutItem on PROC#, PutItem on PROC#CONTACT, no attribute
// or transaction bound; IAM evaluates each item of a transaction on its
// own and has no key that ties the contact's write to the deletion of a
// matching PROC#ASK in the same transaction). Whoever runs code as that
// role (a deploy of the function, a bug in it) changes the contact with
// the very request the code before the rule sent
// (dynamo.Store.SetProcessorContact): no ask, no second member, no ledger
// entry, and, because the former contact's notice is an outbox item the
// operator's code chooses to write (PROCNOTICE#), no notice either; the
// next person's erasure goes to the new address with their address in it.
//
// IAM cannot prevent it, but it can be made impossible to do quietly:
// the notice (and a ledger entry) derived from the change itself (the ops
// table's stream, NEW_AND_OLD_IMAGES: a PROC# item whose contact_email
// changed tells the old image's address), which no function's role can
// skip. Fails on the code under review: the write is allowed, the
// erasure goes to the new address, and the former contact is told nothing
// and the ledger records nothing. Passes as well if the role is refused
// the write.
func TestReview10ContactChangedByTheOperatorRoleAloneIsTold(t *testing.T) {
	t.Parallel()
	s := startStackOpts(t, localtest.Need(t), 1, nil, nil)
	u := localtest.Unique()
	old, evil := "privacy-"+u+"@drift.example", "inbox-"+u+"@attacker.example"
	proc, _ := s.registerProcessor(t, "-name", "Drift "+u, "-contact", old)

	cfg, ok := s.AWSAs("OperatorFunction")
	if !ok {
		t.Fatal("no OperatorFunction")
	}
	st := dynamo.New(dynamodb.NewFromConfig(cfg), dynamo.Tables{Subjects: s.Tables["SubjectsTable"], Ledger: s.Tables["LedgerTable"],
		Suppression: s.Tables["SuppressionTable"], Requests: s.Tables["RequestsTable"], Ops: s.Tables["OpsTable"]})
	s.expectRefusals = true // a refusal of the write below closes the hole
	err := st.SetProcessorContact(context.Background(), proc, evil, privacy.Event{At: time.Now().UTC()})
	if err != nil && strings.Contains(err.Error(), "not authorized") {
		return // the role alone may no longer change a contact
	}
	if err != nil {
		t.Fatalf("the role's contact write: %v", err)
	}

	// It took effect: the next person's erasure goes to the new address.
	person := "erased-" + u + "@example.com"
	_, verify, _ := s.fileAndOpen(t, person, `{"email":"`+person+`","type":"erasure"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"completed"`) {
		t.Fatalf("verify the erasure: %d %s", resp.StatusCode, out)
	}
	if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
		return e.To(evil) && strings.Contains(e.Body.Text, person)
	}); len(got) != 1 {
		t.Fatal("the erasure did not reach the contact the role set: the premise does not hold")
	}
	t.Logf("OperatorFunction's role alone, with no ask and no second member, sent %s's erasure to %s", person, evil)

	// The former contact is told, as after an approved change.
	if got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(old) && strings.Contains(e.Subject, "was changed")
	}); len(got) != 1 {
		t.Errorf("the former contact %s was not told that the contact of processor %s changed (to %s's domain): "+
			"the notice is written only by the operator's approval code", old, proc, "attacker.example")
	}
	// The team's ledger records the change.
	found := false
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == "processor_contact_changed" && strings.Contains(itemText(t, it), proc) {
			found = true
		}
	}
	if !found {
		t.Errorf("no processor_contact_changed entry in the ledger for processor %s: the change left no trace", proc)
	}
}
