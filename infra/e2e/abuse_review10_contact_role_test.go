package e2e

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Review 10 (role against code), the two-person rule on processors: the
// rule lives in OperatorFunction's code alone. Its role still writes the
// processors' registry directly (Processors: PutItem and DeleteItem on
// PROC#, no attribute bound; ProcessorContactChange: UpdateItem of
// contact_email and contact_changed_at; IAM evaluates each item of a
// transaction on its own and has no key that ties the write to the
// deletion of a matching PROC#ASK). Whoever runs code as that role (a
// deploy of the function, a bug in it) changes a registration with no
// ask, no second member and no ledger entry of the team's; and the former
// contact's notice was an outbox item the operator's code chose to write.
//
// IAM cannot prevent it; the fix makes it impossible to do quietly: the
// mailer reads the ops table's stream (filtered to the PROC# items) and
// tells every registry change, whoever wrote it, to the team inbox, to the
// former contact when the contact changed, and to the ledger
// (processor_change_observed, SYSTEM#processors, which that role may not
// write). Three quiet paths with the role's own credentials: the contact
// updated as the approval's transaction does, a delete-then-put of the
// same processor with another contact, and a registration without an ask.
// Fails on the code under review: the ops table has no stream, and nobody
// is told of any of them.
func TestReview10ContactChangedByTheOperatorRoleAloneIsTold(t *testing.T) {
	t.Parallel()
	s := startStackOpts(t, localtest.Need(t), 1, nil, nil)
	ctx := context.Background()
	u := localtest.Unique()
	old, evil := "privacy-"+u+"@drift.example", "inbox-"+u+"@attacker.example"
	old2, evil2 := "privacy-"+u+"@pardot.example", "dpo-"+u+"@lookalike.example"
	evil3 := "intake-" + u + "@newcomer.example"
	updated, _ := s.registerProcessor(t, "-name", "Drift "+u, "-contact", old)
	replaced, _ := s.registerProcessor(t, "-name", "Pardot "+u, "-contact", old2)
	added := "quiet-" + u

	cfg, ok := s.AWSAs("OperatorFunction")
	if !ok {
		t.Fatal("no OperatorFunction")
	}
	role := dynamodb.NewFromConfig(cfg)
	ops := aws.String(s.Tables["OpsTable"])
	key := func(id string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "PROC#"}, "sk": &types.AttributeValueMemberS{Value: id}}
	}
	// 1. The contact, updated as the approval's transaction updates it.
	if _, err := role.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: ops, Key: key(updated),
		UpdateExpression: aws.String("SET contact_email = :c, contact_changed_at = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: evil},
			":at": &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)}}}); err != nil {
		t.Fatalf("the role's contact update: %v", err)
	}
	// 2. The registration deleted and put again with another contact.
	got, err := s.DB().GetItem(ctx, &dynamodb.GetItemInput{TableName: ops, Key: key(replaced), ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Fatalf("read %s: %v", replaced, err)
	}
	if _, err := role.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: ops, Key: key(replaced)}); err != nil {
		t.Fatalf("the role's delete: %v", err)
	}
	item := maps.Clone(got.Item)
	item["contact_email"] = &types.AttributeValueMemberS{Value: evil2}
	if _, err := role.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: item}); err != nil {
		t.Fatalf("the role's put: %v", err)
	}
	// 3. A processor registered with no ask.
	item = maps.Clone(got.Item)
	item["sk"], item["processor_id"] = &types.AttributeValueMemberS{Value: added}, &types.AttributeValueMemberS{Value: added}
	item["name"], item["contact_email"] = &types.AttributeValueMemberS{Value: "Quiet " + u}, &types.AttributeValueMemberS{Value: evil3}
	if _, err := role.PutItem(ctx, &dynamodb.PutItemInput{TableName: ops, Item: item}); err != nil {
		t.Fatalf("the role's registration: %v", err)
	}
	// Each took effect: the next erasure's notices go to the new addresses.
	if out, _ := s.privacyctl(t, "processor", "list"); !strings.Contains(out, evil) || !strings.Contains(out, evil2) ||
		!strings.Contains(out, evil3) {
		t.Fatalf("the premise does not hold: the role's writes are not the registry:\n%s", out)
	}

	// The team inbox is told of each change.
	for _, c := range []struct{ id, what, shows string }{
		{updated, "privacy contact address changed", evil},
		{replaced, "removed", "pardot.example"},
		{replaced, "registered again after its removal", evil2},
		{added, "registered", evil3},
	} {
		subject := "Processor " + c.id + ": " + c.what
		if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
			return e.To(s.team) && e.Subject == subject && strings.Contains(e.Body.Text, c.shows)
		}); len(got) != 1 {
			t.Errorf("the team inbox was not told %q (showing %s)", subject, c.shows)
		}
	}
	// The former contacts are told their address is no longer the one
	// written to, with the new domain and nothing of any person.
	for _, c := range []struct{ former, domain string }{{old, "attacker.example"}, {old2, "lookalike.example"}} {
		if got := localtest.WaitEmails(t, s.svc, 1, 30*time.Second, func(e localtest.Email) bool {
			return e.To(c.former) && strings.Contains(e.Subject, "was changed") && strings.Contains(e.Body.Text, c.domain)
		}); len(got) != 1 {
			t.Errorf("the former contact %s was not told that its processor's contact changed (to %s)", c.former, c.domain)
		}
	}
	// The ledger records each change, with domains, never an address.
	s.idle(t)
	seen := map[string]int{}
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") != "processor_change_observed" {
			continue
		}
		text := itemText(t, it)
		if str(it, "pk") != "SYSTEM#processors" {
			t.Errorf("an observed change outside SYSTEM#processors: %s", text)
		}
		for _, a := range []string{old, evil, old2, evil2, evil3} {
			if strings.Contains(text, a) {
				t.Errorf("the ledger's entry holds the address %s: %s", a, text)
			}
		}
		seen[str(it, "ref")+" "+detailValue(it, "change")]++
	}
	// The two approved registrations are observed as well.
	for want, n := range map[string]int{updated + " added": 1, updated + " contact_changed": 1, replaced + " added": 2,
		replaced + " removed": 1, added + " added": 1} {
		if seen[want] != n {
			t.Errorf("%d processor_change_observed entries for %q, want %d (all: %v)", seen[want], want, n, seen)
		}
	}
	logs := s.logs.String()
	for _, a := range []string{old, evil, old2, evil2, evil3} {
		if strings.Contains(logs, a) {
			t.Errorf("a log line holds the address %s", a)
		}
	}
}

// detailValue is a ledger entry's detail value of name.
func detailValue(it map[string]types.AttributeValue, name string) string {
	if d, ok := it["detail"].(*types.AttributeValueMemberM); ok {
		return str(d.Value, name)
	}
	return ""
}
