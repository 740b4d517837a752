package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// Sixth role-versus-code review, finding (a): an email to a marketing
// email's mailto: unsubscribe address that UnsubscribeMailFunction failed
// on (here its suppression table is gone, as in a restore) is given up
// after Lambda's two retries and recorded on FailureQueue, as the template
// says; docs/deploy.md then sends the team to privacyctl replay. The
// replay invokes the function as the maintenance role, whose
// PrivacyReplayPolicy (Sid ReplayInvokes) does not name
// UnsubscribeMailFunction: the invocation is refused and the person stays
// subscribed. Once the table is back, the replay must feed the event back
// once, and the person is unsubscribed.
func TestIAMReview6FailedMailtoUnsubscriptionIsReplayed(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	s := startStackConfig(t, svc, 1, nil, nil, func(c *local.Config) { c.AsyncRetryDelay = 200 * time.Millisecond })
	ctx := context.Background()
	u := localtest.Unique()
	person := "replay-mailto-" + u + "@example.com"
	s.subscribed(t, person)
	// The local part the person's campaign email would carry
	// (links.Builder.UnsubscribeMail), at the local stack's unsubscribe
	// domain (the sender's, example.com; TestMailtoUnsubscribes reads it
	// from a real campaign email).
	signer, err := token.New(lambdaenv.DeriveSecrets(localSecret).TokenKey)
	if err != nil {
		t.Fatal(err)
	}
	mailbox, err := signer.SignMailbox(token.Claims{Purpose: token.Unsubscribe, Subject: s.hasher.Subject(person),
		Expires: time.Now().Add(links.MarketingValidity)})
	if err != nil {
		t.Fatal(err)
	}
	status := func() string { return str(s.subscription(t, person), "status") }

	suppression := s.Tables["SuppressionTable"]
	if _, err := s.DB().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(suppression)}); err != nil {
		t.Fatal(err)
	}
	resp, out := s.do(t, "POST", "/_local/invoke/UnsubscribeMailFunction", "application/json",
		sesInbound(t, "PASS", mailbox+"@example.com"), map[string]string{"X-Amz-Invocation-Type": "Event"})
	if resp.StatusCode != 202 {
		t.Fatalf("async invoke: %d %s", resp.StatusCode, out)
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(s.logs.String(), "async UnsubscribeMailFunction: given up after 3 attempts; recorded on"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failed unsubscription was not recorded on the failure queue")
		}
	}
	if st := status(); st != "confirmed" {
		t.Fatalf("before the replay the person is %s", st)
	}
	// The cause fixed: the table is back (empty, as after a restore).
	if _, err := local.CreateTablesOnly(ctx, local.Config{Template: filepath.Join(localtest.Root(), "template.yaml"),
		DynamoDBEndpoint: svc.DynamoDB, TablePrefix: strings.TrimSuffix(suppression, "SuppressionTable")}); err != nil {
		t.Fatal(err)
	}
	out, err = s.privacyctl(t, "replay", "-queue-url", s.Queues["FailureQueue"])
	if err != nil || !strings.Contains(out, "replayed an asynchronous invocation of UnsubscribeMailFunction") ||
		!strings.Contains(out, "1 replayed, 0 failed") {
		t.Fatalf("replay (%v): %s", err, out)
	}
	for deadline := time.Now().Add(20 * time.Second); status() != "unsubscribed"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the replay the person is %s", status())
		}
	}
}
