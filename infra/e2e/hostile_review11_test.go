package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Review 11 (hostile, role). MailerFunction's new grant
// (InquiryReceivedLedgerEntry) is meant for one entry, inquiry_received,
// written the day it is written. IAM bounds it by attribute names and the
// partition only: the event, the time (at, and so the sort key) and the
// day are whatever the caller puts, and h is an unkeyed SHA-256 anyone
// computes (ledger.Hash). Run as the mailer's role (the local stack's AWS
// front, the template's policies), its credentials write, in the
// partition of a person who never subscribed, a subscription_confirmed
// (purpose newsletter, basis consent) dated a year ago and filed on the
// day not yet sealed. The signer seals it with that day and
// `privacyctl ledger verify` finds nothing: the person's history shows a
// consent a year old that the ledger proves. Nothing checks that an
// entry's day is its time's day except for a move's copy (detail
// moved_from, which this grant cannot write) or the mailer's
// inquiry_received (within the stream's 24 hours and a replay).
//
// Before b5653ed the role could not write the ledger at all (the put is
// refused: the test passes); it fails on b5653ed.
func TestHostileReview11MailerRoleBackdatesAConsentIntoAnyonesHistory(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.expectRefusals = true // on the old template the put below is refused, which is what the test wants
	u := localtest.Unique()
	victim := s.hasher.Subject("r11-never-subscribed-" + u + "@example.com")
	cfg, ok := s.AWSAs("MailerFunction")
	if !ok {
		t.Fatal("no MailerFunction")
	}
	db := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()

	yearAgo := time.Now().UTC().AddDate(-1, 0, 0).Truncate(time.Second)
	at := yearAgo.Format("2006-01-02T15:04:05.000000000Z")
	open := yesterday().Format(time.DateOnly) // the day the test seals: open when written
	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := map[string]types.AttributeValue{
		"pk": sv("S#" + string(victim)), "sk": sv(at + "#subscription_confirmed#sub-" + u),
		"subject": sv(string(victim)), "event": sv("subscription_confirmed"), "at": sv(at), "ref": sv("sub-" + u),
		"purpose": sv("newsletter"), "legal_basis": sv("consent"), "policy_version": sv("2018-07-10"),
		"expires_at": &types.AttributeValueMemberN{Value: strconv.FormatInt(yearAgo.AddDate(3, 0, 0).Unix(), 10)},
		"day":        sv(open),
	}
	e := ledger.Entry{PK: "S#" + string(victim), SK: at + "#subscription_confirmed#sub-" + u, Attrs: map[string]string{}}
	for k, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			e.Attrs[k] = "S:" + v.Value
		case *types.AttributeValueMemberN:
			e.Attrs[k] = "N:" + v.Value
		}
	}
	item["h"] = sv(ledger.Hash(e))
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Tables["LedgerTable"]), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil {
		if strings.Contains(err.Error(), "AccessDenied") {
			return // the role may not write it: nothing to prove
		}
		t.Fatalf("put: %v", err)
	}
	s.seal(t)
	out, err := s.privacyctl(t, "ledger", "verify")
	if err == nil || !strings.Contains(out, "misdated") || !strings.Contains(out, "sub-"+u) {
		t.Errorf("MailerFunction's role wrote a subscription_confirmed dated %s (a year ago) into a person's history, "+
			"sealed on %s, and verify did not name it misdated (%v):\n%s", at, open, err, out)
	}
}

// Review 11 (hostile). The inquiry's entry is now certain only through the
// record's path: the stream's retries, the failure queue, then privacyctl
// replay, which marks the item replayed_at "only an item that still
// exists" (infra/replay touch). A record that failed (the ledger
// unreachable) and whose inquiry the person's address correction moved
// (dynamo.Store.MoveSubject, what an approved rectification of the
// address runs) before the replay is counted "gone since": the mailer is
// never given the inquiry again, the correction's moveLedger found no
// entry to move, and the moved copy makes no email due (no mail_due: the
// stream's filter drops it). The inquiry the person sent has no
// inquiry_received anywhere, for good; docs/ledger.md says only an item
// the mailer cannot decode gets none. (An erasure in the same window ends
// the same way: the redacted trace the old transaction left is missing.)
// With the old transaction the entry was written with the inquiry and
// moved by the correction.
func TestHostileReview11InquiryEntryLostWhenMovedBeforeReplay(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	s := startStackConfig(t, svc, 1, nil, nil, func(c *local.Config) { c.StreamRetryLimit = 1 })
	ctx := context.Background()
	table := s.Tables["LedgerTable"]
	if _, err := s.DB().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		t.Fatal(err)
	}
	u := localtest.Unique()
	addr, moved := "r11-old-"+u+"@example.com", "r11-new-"+u+"@example.com"
	from, to := s.hasher.Subject(addr), s.hasher.Subject(moved)
	store := dynamo.New(s.DB(), dynamo.Tables{Subjects: s.Tables["SubjectsTable"], Ledger: table,
		Suppression: s.Tables["SuppressionTable"], Requests: s.Tables["RequestsTable"]})
	inq := privacy.NewInquiry("inq-"+u, from, privacy.ContactForm{Name: "S", Email: addr, Topic: "demo", Message: "M"},
		"v", privacy.RequestMeta{ReceivedAt: time.Now()})
	if err := store.SaveInquiry(ctx, inq); err != nil {
		// The old transaction: no inquiry without its entry. Holds.
		t.Logf("the inquiry is refused with its entry: %v", err)
		return
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(s.logs.String(), "stream MailerFunction: 1 records after 1 retries sent to"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the failing record was not given up to the failure queue")
		}
	}
	if _, err := local.CreateTablesOnly(ctx, local.Config{Template: filepath.Join(localtest.Root(), "template.yaml"),
		DynamoDBEndpoint: svc.DynamoDB, TablePrefix: strings.TrimSuffix(table, "LedgerTable")}); err != nil {
		t.Fatal(err)
	}
	// The person's address correction, approved and applied before the
	// team replays.
	if _, err := store.MoveSubject(ctx, from, to, moved, "req-"+u, time.Now()); err != nil {
		t.Fatal(err)
	}
	out, err := s.privacyctl(t, "replay", "-queue-url", s.Queues["FailureQueue"])
	if err != nil {
		t.Fatalf("replay: %v %s", err, out)
	}
	t.Logf("replay: %s", out)
	s.idle(t)
	time.Sleep(3 * time.Second)
	var found []string
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "event") == "inquiry_received" && str(it, "ref") == inq.ID {
			found = append(found, str(it, "pk"))
		}
	}
	if len(found) == 0 {
		t.Errorf("the inquiry %s the person sent has no inquiry_received entry, under the old key or the new: "+
			"the replay found its item moved (%q), and nothing writes it", inq.ID, strings.TrimSpace(out))
	}
}
