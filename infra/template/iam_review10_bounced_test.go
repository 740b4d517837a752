package template_test

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Tenth (role-versus-code) review: SweepFunction, which had no grant on
// SuppressionTable, is given UpdateItem of it naming pk, sk, since,
// lifted_at, subscription_checked_at, retention_pk, retention_at (Sid
// CheckSuppressions). The code (dynamo.Sweep.EndSubscription, Refile)
// writes subscription_checked_at and the two index attributes only:
// since and lifted_at are in the grant because its condition names them
// ("#clock = :clock AND ... attribute_not_exists(lifted_at)"), and IAM's
// dynamodb:Attributes counts a condition's names as the update's. So the
// role may SET or REMOVE them on any suppression, and, UpdateItem being
// an upsert, create one:
//   - lifted_at on an erasure's record, or on a complaint or objection
//     (privacy.Suppression.InForce: no longer a reason; reapply-erasures
//     after a restore erases only what is older than a lifted erasure);
//   - since on an erasure's record (the time reapply-erasures erases up
//     to and filters by), or a new "erased"/"objected" record for anyone.
//
// Neither is needed: a bounced or complained suppression is never marked
// lifted (a lift deletes it: dynamo.Store lifts, ConfirmSubscription), so
// attribute_not_exists(lifted_at) never fails on one, and since never
// changes on a filed suppression (if_not_exists), so the filing as read
// (retention_at = :cur, as Refile conditions) or attribute_exists(pk)
// says the same as "#clock = :clock". Fails on the template under review
// (both writes allowed); passes once the condition names retention_at
// instead and the grant is pk, sk, subscription_checked_at,
// retention_pk, retention_at.
func TestReview10SweepRoleRewritesAnyonesSuppressionRecords(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	subject := `S#` + string(review7Subject)
	sup := `{"pk":{"S":"` + subject + `"},"sk":{"S":"bounced"},"since":{"S":"2026-11-20T10:00:00.000000000Z"},` +
		`"subject":{"S":"` + string(review7Subject) + `"},"retention_pk":{"S":"due#03"},"retention_at":{"N":"1"}}`
	sub := `{"pk":{"S":"` + subject + `"},"sk":{"S":"SUB"},"kind":{"S":"subscription"},"status":{"S":"confirmed"},` +
		`"signup_id":{"S":"s1"},"email":{"S":"a@example.com"},"topics":{"SS":["newsletter"]},"list_pk":{"S":"subscribers"},"list_sk":{"S":"x"}}`
	// What the sweep writes of a suppression: each update of
	// SuppressionTable's update expression, its names resolved.
	written := map[string]bool{}
	conditioned := map[string]bool{}
	ident := regexp.MustCompile(`:?[#A-Za-z_][A-Za-z0-9_]*`)
	collect := func(u struct {
		TableName, UpdateExpression, ConditionExpression string
		ExpressionAttributeNames                         map[string]string
	}) {
		if u.TableName != "SuppressionTable" {
			return
		}
		resolve := func(expr string, into map[string]bool) {
			for _, w := range ident.FindAllString(expr, -1) {
				if strings.HasPrefix(w, ":") {
					continue // a value
				}
				if n, ok := u.ExpressionAttributeNames[w]; ok {
					w = n
				}
				switch strings.ToUpper(w) {
				case "SET", "REMOVE", "AND", "OR", "NOT", "IF_NOT_EXISTS", "ATTRIBUTE_NOT_EXISTS", "ATTRIBUTE_EXISTS":
					continue
				}
				into[w] = true
			}
		}
		resolve(u.UpdateExpression, written)
		resolve(u.ConditionExpression, conditioned)
	}
	answer := func(op, tn string, body []byte) (int, string) {
		var in struct {
			TableName, UpdateExpression, ConditionExpression string
			ExpressionAttributeNames                         map[string]string
			TransactItems                                    []struct {
				Update *struct {
					TableName, UpdateExpression, ConditionExpression string
					ExpressionAttributeNames                         map[string]string
				}
			}
		}
		_ = json.Unmarshal(body, &in)
		if op == "UpdateItem" {
			collect(struct {
				TableName, UpdateExpression, ConditionExpression string
				ExpressionAttributeNames                         map[string]string
			}{in.TableName, in.UpdateExpression, in.ConditionExpression, in.ExpressionAttributeNames})
		}
		for _, ti := range in.TransactItems {
			if ti.Update != nil {
				collect(*ti.Update)
			}
		}
		switch {
		case op == "Query" && tn == "SuppressionTable":
			return 200, `{"Items":[{"pk":{"S":"` + subject + `"},"sk":{"S":"bounced"},"retention_pk":{"S":"due#03"},"retention_at":{"N":"1"}}],` +
				`"Count":1,"ScannedCount":1}`
		case op == "BatchGetItem" && strings.Contains(string(body), `"SuppressionTable"`):
			return 200, `{"Responses":{"SuppressionTable":[` + sup + `]},"UnprocessedKeys":{}}`
		case op == "BatchGetItem":
			return 200, `{"Responses":{"SubjectsTable":[` + sub + `]},"UnprocessedKeys":{}}`
		}
		return ok8(op, tn, body)
	}
	recordDB8(t, answer, func(ctx context.Context, db *dynamodb.Client) error {
		sw := &dynamo.Sweep{DB: db, Tables: map[privacy.Table]string{privacy.TableSubjects: "SubjectsTable",
			privacy.TableLedger: "LedgerTable", privacy.TableSuppression: "SuppressionTable", privacy.TableOps: "OpsTable"}}
		items, _, _, err := sw.DuePage(ctx, privacy.TableSuppression, 3, now, 100, nil)
		if err != nil || len(items) != 1 {
			t.Fatalf("DuePage: %d items, %v", len(items), err)
		}
		if _, err := sw.EndSubscription(ctx, privacy.TableSuppression, items[0], privacy.Retention().SuppressedSubscription, now, false); err != nil {
			return err
		}
		return sw.Refile(ctx, privacy.TableSuppression, items[0], now.Add(24*time.Hour)) // a protected one
	})
	for _, a := range []string{"since", "lifted_at"} {
		if written[a] {
			t.Fatalf("the sweep writes %s of a suppression (written: %v): this review's premise is wrong", a, written)
		}
		if !conditioned[a] {
			t.Logf("the sweep's condition no longer names %s", a)
		}
	}
	t.Logf("the sweep writes %v of a suppression; its conditions name %v", slices.Sorted(maps.Keys(written)), slices.Sorted(maps.Keys(conditioned)))

	supp := table("SuppressionTable")
	check(t, []ask{
		// An erasure's record (or a complaint, an objection) marked
		// lifted: no longer a reason; reapply-erasures spares what was
		// given after it.
		{"SweepFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", "lifted_at"), false},
		// An erasure's since moved (reapply-erasures' cut-off), or a new
		// suppression record created for anyone (an upsert).
		{"SweepFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", "since"), false},
		// What the code needs, conditioned on the filing as read.
		{"SweepFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", privacy.AttrSubscriptionChecked,
			"retention_pk", "retention_at"), true},
	})
}
