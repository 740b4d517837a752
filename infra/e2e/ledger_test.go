package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/go-jose/go-jose/v4"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// yesterday is the last closed day, which the tests seal.
func yesterday() time.Time {
	return time.Now().UTC().AddDate(0, 0, -1).Truncate(24 * time.Hour).Add(10 * time.Hour)
}

// seedLedger writes entries on yesterday through the store the functions
// write with (the ledger cannot be written in the past through the API),
// and returns their keys, in order.
func (s *stack) seedLedger(t *testing.T, events ...privacy.Event) [][2]string {
	t.Helper()
	store := dynamo.New(s.DB(), dynamo.Tables{Ledger: s.Tables["LedgerTable"]})
	var keys [][2]string
	for _, e := range events {
		if err := store.RecordEvent(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, [2]string{"S#" + string(e.Subject), e.At.UTC().Format("2006-01-02T15:04:05.000000000Z") + "#" + string(e.Name) + "#" + e.Ref})
	}
	return keys
}

// seal invokes the signer as Scheduler does, through yesterday (the day
// named: the run must not depend on the minutes after midnight).
func (s *stack) seal(t *testing.T) {
	t.Helper()
	day := yesterday().Format(time.DateOnly)
	if resp, out := s.do(t, "POST", "/_local/invoke/LedgerSignerFunction", "application/json", `{"through":"`+day+`"}`, nil); resp.StatusCode != 200 || !strings.Contains(out, day) {
		t.Fatalf("seal: %d %s", resp.StatusCode, out)
	}
}

func (s *stack) ledgerKey(k [2]string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k[0]}, "sk": &types.AttributeValueMemberS{Value: k[1]}}
}

// A sealed day's entries changed, deleted or inserted directly in
// DynamoDB are each named by privacyctl ledger verify; its signed root is
// served, and verifies with go-jose against the published key.
func TestLedgerTamperIsNamed(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	at := yesterday()
	var events []privacy.Event
	for i, who := range []string{"a", "b", "c"} {
		events = append(events, privacy.Event{Subject: privacy.SubjectID("ledger-" + who + "-" + u), Name: "subscribe_requested",
			At: at.Add(time.Duration(i) * time.Minute), Ref: "sub-" + who, Purpose: "newsletter", LegalBasis: "consent",
			Detail: map[string]string{"topics": "news", "source_ip": "192.0.2.1"}})
	}
	keys := s.seedLedger(t, events...)
	s.seal(t)
	if out, err := s.privacyctl(t, "ledger", "verify"); err != nil || !strings.Contains(out, "1 days sealed") {
		t.Fatalf("verify before: %v\n%s", err, out)
	}

	// The published root verifies with a standard JOSE library against
	// the published key, and names no one.
	resp, body := s.do(t, "GET", "/.well-known/ledger/roots", "", "", nil)
	var page ledger.Page
	if err := json.Unmarshal([]byte(body), &page); resp.StatusCode != 200 || err != nil || len(page.Roots) != 1 {
		t.Fatalf("roots: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "S#") || strings.Contains(body, u) {
		t.Fatalf("the roots route shows entry keys: %s", body)
	}
	_, jwksBody := s.do(t, "GET", "/.well-known/jwks.json", "", "", nil)
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jwksBody), &jwks); err != nil {
		t.Fatal(err)
	}
	obj, err := jose.ParseSignedCompact(page.Roots[0].JWS, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	kid := obj.Signatures[0].Header.KeyID
	if len(jwks.Key(kid)) != 1 {
		t.Fatalf("the root's key %s is not published: %s", kid, jwksBody)
	}
	payload, err := obj.Verify(jwks.Key(kid)[0])
	if err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	var st ledger.Statement
	if err := json.Unmarshal(payload, &st); err != nil || st.Day != at.Format(time.DateOnly) || st.Leaves != 3 || st.Tree != ledger.TreeAlg {
		t.Fatalf("statement %s", payload)
	}

	// Change one entry, delete another, insert one, directly.
	ctx, db, tbl := context.Background(), s.DB(), aws.String(s.Tables["LedgerTable"])
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: s.ledgerKey(keys[0]),
		UpdateExpression:          aws.String("SET legal_basis = :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": &types.AttributeValueMemberS{Value: "legitimate_interest"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: s.ledgerKey(keys[1])}); err != nil {
		t.Fatal(err)
	}
	forged := s.seedLedger(t, privacy.Event{Subject: privacy.SubjectID("ledger-d-" + u), Name: "subscription_confirmed",
		At: at.Add(time.Hour), Ref: "sub-d", Purpose: "newsletter", LegalBasis: "consent"})
	out, err := s.privacyctl(t, "ledger", "verify")
	if err == nil {
		t.Fatalf("verify passed a changed ledger:\n%s", out)
	}
	for _, want := range []string{
		"changed: day " + st.Day + " entry " + keys[0][0] + " " + keys[0][1],
		"deleted: day " + st.Day + " entry " + keys[1][0] + " " + keys[1][1],
		"inserted: day " + st.Day + " entry " + forged[0][0] + " " + forged[0][1],
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, keys[2][0]) {
		t.Errorf("verify names the entry nobody touched:\n%s", out)
	}
}

// An erasure redacts the person's sealed entries (their detail goes,
// their hash and digest stay), and the ledger still verifies; a detail
// removed without an erasure does not.
func TestLedgerVerifiesAfterErasure(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "ledger-erase-" + u + "@example.com"
	subject := s.hasher.Subject(addr)
	at := yesterday()
	keys := s.seedLedger(t,
		privacy.Event{Subject: subject, Name: "subscribe_requested", At: at, Ref: "sub-1", Purpose: "newsletter", LegalBasis: "consent",
			Detail: map[string]string{"topics": "news", "consent_text": "v3", "source_ip": "192.0.2.7"}},
		privacy.Event{Subject: subject, Name: "subscription_confirmed", At: at.Add(time.Minute), Ref: "sub-1", Purpose: "newsletter",
			LegalBasis: "consent", Detail: map[string]string{"topics": "news"}},
		privacy.Event{Subject: "ledger-other-" + privacy.SubjectID(u), Name: "subscription_confirmed", At: at.Add(2 * time.Minute),
			Ref: "sub-2", Detail: map[string]string{"topics": "news"}})
	s.seal(t)

	code, f := s.file(t, `{"email":"`+addr+`","type":"erasure"}`)
	if code != 202 {
		t.Fatalf("erasure request: %d", code)
	}
	mails := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(addr) && verifyLink.MatchString(e.Body.Text)
	})
	if resp, out := s.do(t, "POST", s.path(t, verifyLink.FindString(mails[0].Body.Text)), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, "completed") {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	ctx, db, tbl := context.Background(), s.DB(), aws.String(s.Tables["LedgerTable"])
	for _, k := range keys[:2] {
		got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: s.ledgerKey(k), ConsistentRead: aws.Bool(true)})
		if err != nil || got.Item == nil {
			t.Fatalf("the erased person's sealed entry %v is gone: %v", k, err)
		}
		if _, ok := got.Item["detail"]; ok || str(got.Item, "redacted_by") != f.ID || str(got.Item, "h") == "" {
			b, _ := json.Marshal(got.Item)
			t.Fatalf("entry %v after the erasure: %s", k, b)
		}
	}
	if out, err := s.privacyctl(t, "ledger", "verify"); err != nil {
		t.Fatalf("verify after the erasure: %v\n%s", err, out)
	}
	// A redaction no erasure made: another person's detail removed.
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: s.ledgerKey(keys[2]),
		UpdateExpression: aws.String("REMOVE detail, salt")}); err != nil {
		t.Fatal(err)
	}
	out, err := s.privacyctl(t, "ledger", "verify", "-from", at.Format(time.DateOnly))
	if err == nil || !strings.Contains(out, "changed: day "+at.Format(time.DateOnly)+" entry "+keys[2][0]) ||
		!strings.Contains(out, "detail removed without an erasure") {
		t.Fatalf("verify after a redaction no erasure made: %v\n%s", err, out)
	}
}

// A correction of an address the team approves after the person's
// entries were sealed keeps the ledger verifiable: the old entries stay,
// redacted by the correction, beside its "moved" entry; the copies under
// the new key are new entries of the move's day, each naming the entry it
// copies. A redaction naming a correction that moved nothing of the
// person is still named.
func TestLedgerVerifiesAfterAddressCorrection(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	oldAddr, newAddr := "ledger-move-"+u+"@example.com", "ledger-moved-"+u+"@example.com"
	from, to := s.hasher.Subject(oldAddr), s.hasher.Subject(newAddr)
	at := yesterday()
	keys := s.seedLedger(t,
		privacy.Event{Subject: from, Name: "subscribe_requested", At: at, Ref: "sub-1", Purpose: "newsletter", LegalBasis: "consent",
			Detail: map[string]string{"topics": "news", "consent_text": "v3", "source_ip": "192.0.2.7"}},
		privacy.Event{Subject: from, Name: "subscription_confirmed", At: at.Add(time.Minute), Ref: "sub-1", Purpose: "newsletter",
			LegalBasis: "consent", Detail: map[string]string{"topics": "news"}},
		privacy.Event{Subject: "ledger-other-" + privacy.SubjectID(u), Name: "subscription_confirmed", At: at.Add(2 * time.Minute),
			Ref: "sub-2", Detail: map[string]string{"topics": "news"}})
	s.seal(t)

	id, verify, _ := s.fileAndOpen(t, oldAddr, `{"email":"`+oldAddr+`","type":"rectification","field":"email","value":"`+newAddr+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	ask := s.mailTo(t, newAddr, "Please confirm this address (request "+id)
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(ask.Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm the new address: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", id); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	s.mailTo(t, newAddr, "Your data is corrected")

	ctx, db, tbl := context.Background(), s.DB(), aws.String(s.Tables["LedgerTable"])
	for _, k := range keys[:2] {
		got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: s.ledgerKey(k), ConsistentRead: aws.Bool(true)})
		if err != nil || got.Item == nil {
			t.Fatalf("the moved person's sealed entry %v is gone: %v", k, err)
		}
		if _, ok := got.Item["detail"]; ok || str(got.Item, "redacted_by") != id || str(got.Item, "h") == "" {
			b, _ := json.Marshal(got.Item)
			t.Fatalf("entry %v after the move: %s", k, b)
		}
		moved, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, ConsistentRead: aws.Bool(true),
			Key: s.ledgerKey([2]string{"S#" + string(to), k[1]})})
		if err != nil || moved.Item == nil {
			t.Fatalf("no copy of %v under the new key: %v", k, err)
		}
		d, _ := moved.Item["detail"].(*types.AttributeValueMemberM)
		if d == nil || str(d.Value, "moved_from") != k[1] || str(moved.Item, "day") != time.Now().UTC().Format(time.DateOnly) {
			b, _ := json.Marshal(moved.Item)
			t.Fatalf("the copy of %v: %s", k, b)
		}
	}
	if out, err := s.privacyctl(t, "ledger", "verify"); err != nil {
		t.Fatalf("verify after the move: %v\n%s", err, out)
	}
	// A redaction naming a correction that moved nothing of this person.
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: s.ledgerKey(keys[2]),
		UpdateExpression:          aws.String("REMOVE detail, salt SET redacted_by = :by"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":by": &types.AttributeValueMemberS{Value: id}}}); err != nil {
		t.Fatal(err)
	}
	out, err := s.privacyctl(t, "ledger", "verify", "-from", at.Format(time.DateOnly))
	if err == nil || !strings.Contains(out, "bad redaction: day "+at.Format(time.DateOnly)+" entry "+keys[2][0]) {
		t.Fatalf("verify after a redaction no move made: %v\n%s", err, out)
	}
}
