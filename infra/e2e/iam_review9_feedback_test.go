package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// Ninth (role-versus-code) review: FeedbackFunction, which a stranger
// reaches (POST /v1/ses-notifications), was granted GetItem and
// UpdateItem on SubjectsTable (Sid EndTheSubscription) to end a
// suppressed address's subscription. IAM bounds that grant by attribute
// names only: no sort key, and no key for a refused condition's
// ReturnValuesOnConditionCheckFailure. Run as the function's role (the
// local stack's AWS front, the transformed template's policies), a
// compromised FeedbackFunction
//   - reads any subjects item it can key whole (an UpdateItem whose
//     condition fails, ALL_OLD), although its GetItem of the address is
//     refused: given a person's old address (a bounce), the forward a
//     correction left, then the new address (docs/security.md's "left
//     open" gap of the eighth review, now on a function the internet
//     reaches);
//   - takes a legal hold out of the holds index (REMOVE list_pk, list_sk
//     on HOLD#LEGAL: what the sweep's HeldSubjects, the digest and
//     `privacyctl hold list` read) and puts it on TTL (expires_at), neither
//     of which ending a subscription needs.
//
// Fails on the code under review; passes once the internet-facing
// function is granted no UpdateItem on SubjectsTable (the subscription
// ended by a function the internet does not reach).
func TestIAMReview9FeedbackRoleReadsAndRewritesAnyonesSubjectItems(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.expectRefusals = true // the GetItem of the address below; the others are checked here
	u := localtest.Unique()
	addr := "fb9-" + u + "@example.com"
	s.subscribed(t, addr)
	if out, err := s.privacyctl(t, "hold", "add", "-email", addr, "-reason", "litigation LIT9-"+u, "-until", "2099-01-01"); err != nil ||
		!strings.Contains(out, "legal hold placed") {
		t.Fatalf("hold add: %v %s", err, out)
	}
	cfg, ok := s.AWSAs("FeedbackFunction")
	if !ok {
		t.Fatal("no FeedbackFunction")
	}
	db := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	table := aws.String(s.Tables["SubjectsTable"])
	pk := &types.AttributeValueMemberS{Value: "S#" + string(s.hasher.Subject(addr))}
	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

	// The role may not read the address.
	if out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: map[string]types.AttributeValue{"pk": pk, "sk": sv("SUB")},
		ProjectionExpression: aws.String("email")}); err == nil {
		t.Errorf("FeedbackFunction's GetItem of a subscriber's email was allowed: %v", out.Item)
	}

	// ... but an UpdateItem it may send (status alone, ReturnValues NONE)
	// whose condition fails hands back the whole item. Keyed by an
	// address it was handed (a bounce of the person's old address), it
	// follows the forward an approved correction leaves (MOVED: "to", the
	// new subject, which its GetItem may not read either) to the new
	// address.
	allOld := func(pk, sk string) map[string]types.AttributeValue {
		t.Helper()
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: map[string]types.AttributeValue{"pk": sv(pk), "sk": sv(sk)},
			UpdateExpression: aws.String("SET #s = :s"), ConditionExpression: aws.String("attribute_not_exists(pk)"),
			ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: map[string]types.AttributeValue{":s": sv("confirmed")},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			return ccf.Item
		case err != nil && strings.Contains(err.Error(), "not authorized"):
			return nil // refused: the hole is closed
		case err != nil:
			t.Fatalf("the UpdateItem of %s %s: %v", pk, sk, err)
		}
		t.Fatalf("the UpdateItem of %s %s wrote", pk, sk)
		return nil
	}
	oldAddr := "fb9-old-" + u + "@example.com"
	oldPK := "S#" + string(s.hasher.Subject(oldAddr))
	// The forward dynamo.Store.MoveSubject leaves (as stored by an
	// approved correction of oldAddr to addr).
	if _, err := s.DB().PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: map[string]types.AttributeValue{
		"pk": sv(oldPK), "sk": sv("MOVED"), "kind": sv("moved_forward"), "to": sv(string(s.hasher.Subject(addr))),
		"moved_at": sv(time.Now().UTC().Format(time.RFC3339Nano))}}); err != nil {
		t.Fatal(err)
	}
	if to, _ := allOld(oldPK, "MOVED")["to"].(*types.AttributeValueMemberS); to != nil {
		if e, _ := allOld("S#"+to.Value, "SUB")["email"].(*types.AttributeValueMemberS); e != nil && e.Value == addr {
			t.Errorf("FeedbackFunction (internet-facing), given the old address alone, read the person's new address through "+
				"UpdateItems its role allows (a failed condition, ALL_OLD: the forward's \"to\", then the subscription's email): %s", e.Value)
		}
	}

	// A legal hold is not the function's to touch: out of the holds
	// index, and onto TTL.
	holdKey := map[string]types.AttributeValue{"pk": pk, "sk": sv("HOLD#LEGAL")}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: holdKey,
		UpdateExpression: aws.String("REMOVE list_pk, list_sk"), ConditionExpression: aws.String("attribute_exists(pk)")}); err == nil {
		t.Errorf("FeedbackFunction removed a legal hold from the holds index (list_pk, list_sk)")
		if out, _ := s.privacyctl(t, "hold", "list"); !strings.Contains(out, "LIT9-"+u) {
			t.Errorf("the legal hold is gone from `privacyctl hold list` (and from the sweep's HeldSubjects): %s", out)
		}
	}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: holdKey,
		UpdateExpression: aws.String("SET expires_at = :past"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":past": &types.AttributeValueMemberN{Value: "1"}}}); err == nil {
		t.Errorf("FeedbackFunction put a legal hold on TTL (expires_at 1970): DynamoDB deletes it")
	}

	// Only the refusals the test means: the GetItem of email, and
	// whatever the writes above were refused.
	for _, line := range refusals(s.logs.String()) {
		if !strings.Contains(line, "IAM refused FeedbackFunction") {
			t.Errorf("refused: %s", line)
		}
	}
}
