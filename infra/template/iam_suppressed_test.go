package template_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A bounce or a complaint ends the subscription it leaves without a
// purpose from the retention sweep, which the internet does not reach
// (review 9: FeedbackFunction could not hold the grant). What the sweep
// sends, recorded as the SDK sends it: the due suppression from
// SuppressionTable's retention index, read; the subscription under its
// key and the consent's proof, read; whether the subject has an address
// correction open (the type, field and status of its requests, from the
// by-subject index); one transaction that marks the
// suppression checked, ends the subscription, stamps the proof, writes
// the ledger's entry and checks the holds; and a refile (a suppression
// protected, or not due). Every request must be allowed to SweepFunction.
// FeedbackFunction's own write (Store.Suppress) files the suppression
// and nothing more.
func TestSweepEndsASuppressedSubscriptionAsAWSSeesIt(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	subject := `S#` + string(review7Subject)
	sup := `{"pk":{"S":"` + subject + `"},"sk":{"S":"bounced"},"since":{"S":"2026-11-20T10:00:00.000000000Z"},` +
		`"subject":{"S":"` + string(review7Subject) + `"},"grace_from":{"S":"2026-11-29T10:00:00.000000000Z"},` +
		`"retention_pk":{"S":"3"},"retention_at":{"N":"1"}}`
	sub := `{"pk":{"S":"` + subject + `"},"sk":{"S":"SUB"},"kind":{"S":"subscription"},"status":{"S":"confirmed"},` +
		`"signup_id":{"S":"s1"},"email":{"S":"a@example.com"},"topics":{"SS":["newsletter"]},"list_pk":{"S":"subscribers"},"list_sk":{"S":"x"}}`
	proof := `{"pk":{"S":"` + subject + `"},"sk":{"S":"CONSENT#s1"},"kind":{"S":"consent_proof"},"signup_id":{"S":"s1"},` +
		`"confirmed_at":{"S":"2026-01-01T10:00:00Z"}}`
	answer := func(op, tn string, body []byte) (int, string) {
		switch {
		case op == "Query" && tn == "SuppressionTable":
			return 200, `{"Items":[{"pk":{"S":"` + subject + `"},"sk":{"S":"bounced"},"retention_pk":{"S":"3"},"retention_at":{"N":"1"}}],` +
				`"Count":1,"ScannedCount":1}`
		case op == "BatchGetItem" && strings.Contains(string(body), `"SuppressionTable"`):
			return 200, `{"Responses":{"SuppressionTable":[` + sup + `]},"UnprocessedKeys":{}}`
		case op == "BatchGetItem" && strings.Contains(string(body), `CONSENT#s1`):
			return 200, `{"Responses":{"SubjectsTable":[` + proof + `]},"UnprocessedKeys":{}}`
		case op == "BatchGetItem":
			return 200, `{"Responses":{"SubjectsTable":[` + sub + `]},"UnprocessedKeys":{}}`
		}
		return ok8(op, tn, body)
	}
	reqs, ops := recordDB8(t, answer, func(ctx context.Context, db *dynamodb.Client) error {
		sw := &dynamo.Sweep{DB: db, Tables: map[privacy.Table]string{privacy.TableSubjects: "SubjectsTable",
			privacy.TableLedger: "LedgerTable", privacy.TableSuppression: "SuppressionTable", privacy.TableOps: "OpsTable",
			privacy.TableRequests: "RequestsTable"}}
		items, _, _, err := sw.DuePage(ctx, privacy.TableSuppression, 3, now, 100, nil)
		if err != nil {
			return err
		}
		if len(items) != 1 {
			t.Fatalf("DuePage: %d items, want 1", len(items))
		}
		ending, err := sw.EndSubscription(ctx, privacy.TableSuppression, items[0], privacy.Retention().SuppressedSubscription, now, false)
		if err != nil || ending != privacy.EndingEnd {
			t.Fatalf("EndSubscription: %v %v", ending, err)
		}
		return sw.Refile(ctx, privacy.TableSuppression, items[0], now.Add(24*time.Hour))
	})
	want := "Query SuppressionTable, BatchGetItem, BatchGetItem, Query RequestsTable, BatchGetItem, TransactWriteItems, UpdateItem SuppressionTable"
	if strings.Join(ops, ", ") != want {
		t.Errorf("sent %v, want %s", ops, want)
	}
	for _, r := range decide7(t, "SweepFunction", reqs) {
		t.Errorf("SweepFunction: %s", r)
	}
	// The same requests from FeedbackFunction: it reads and writes
	// nothing of the subjects table (review 9), and may not mark a
	// suppression checked; only its own write is allowed.
	for _, r := range reqs {
		if strings.Contains(r.Resource, "SubjectsTable") && len(decide7(t, "FeedbackFunction", []iamsim.Request{r})) == 0 {
			t.Errorf("FeedbackFunction may send %s on %s", r.Action, r.Resource)
		}
	}
	suppress, _ := record7(t, answers7, func(ctx context.Context, st *dynamo.Store) error {
		return st.Suppress(ctx, review7Subject, privacy.SuppressBounced, review7Event("suppressed_bounced"))
	})
	for _, r := range decide7(t, "FeedbackFunction", suppress) {
		t.Errorf("FeedbackFunction: %s", r)
	}
	supp := table("SuppressionTable")
	check(t, []ask{
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", "since", "subject", "retention_pk", "retention_at"), true},
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", privacy.AttrSubscriptionChecked), false},
		// Nor stamp (or unstamp) the grace: it runs from the sweep's own clock.
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", privacy.AttrGraceFrom), false},
		{"FeedbackFunction", "dynamodb:UpdateItem", table("SubjectsTable"), keys([]string{subject}, "pk", "sk", "status"), false},
		{"FeedbackFunction", "dynamodb:GetItem", table("SubjectsTable"), keys([]string{subject}, "pk", "sk", "status"), false},
		// The sweep deletes no suppression, and rewrites none but its
		// check and filing.
		{"SweepFunction", "dynamodb:DeleteItem", supp, keys([]string{subject}, "pk", "sk"), false},
		{"SweepFunction", "dynamodb:BatchWriteItem", supp, keys([]string{subject}, "pk", "sk"), false},
		{"SweepFunction", "dynamodb:PutItem", supp, keys([]string{subject}, "pk", "sk", "since"), false},
		{"SweepFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", "subject"), false},
		{"SweepFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", privacy.AttrGraceFrom,
			privacy.AttrSubscriptionChecked, "retention_pk", "retention_at"), true},
		{"SweepFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", "since"), false},
		{"SweepFunction", "dynamodb:UpdateItem", supp, keys([]string{subject}, "pk", "sk", "lifted_at"), false},
		// Of the subject's requests, whether one corrects the address:
		// never the requests themselves.
		{"SweepFunction", "dynamodb:Query", table("RequestsTable") + "/index/by-subject",
			map[string]any{"dynamodb:Attributes": []string{"type", "correction_field", "status"}, "dynamodb:Select": "SPECIFIC_ATTRIBUTES"}, true},
		{"SweepFunction", "dynamodb:Query", table("RequestsTable") + "/index/by-subject", map[string]any{"dynamodb:Select": "ALL_ATTRIBUTES"}, false},
		{"SweepFunction", "dynamodb:Query", table("RequestsTable") + "/index/by-subject",
			map[string]any{"dynamodb:Attributes": []string{"type", "email"}, "dynamodb:Select": "SPECIFIC_ATTRIBUTES"}, false},
	})
}

// FeedbackFunction's suppression update returns nothing: its grant names
// the attributes it writes, and without a dynamodb:ReturnValues bound an
// UpdateItem naming them with ALL_OLD or ALL_NEW would read the whole
// suppression item (review 8's open item). The code's own update, an item
// of a transaction, is replayed under the role in
// TestSweepEndsASuppressedSubscriptionAsAWSSeesIt above.
func TestFeedbackSuppressionUpdateReturnsNothing(t *testing.T) {
	supp := table("SuppressionTable")
	update := func(returnValues string) map[string]any {
		ctx := keys([]string{"S#" + string(review7Subject)}, "pk", "sk", "since", "subject")
		if returnValues != "" {
			ctx["dynamodb:ReturnValues"] = returnValues
		}
		return ctx
	}
	check(t, []ask{
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, update(""), true},
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, update("NONE"), true},
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, update("ALL_OLD"), false},
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, update("ALL_NEW"), false},
		{"FeedbackFunction", "dynamodb:UpdateItem", supp, update("UPDATED_OLD"), false},
	})
}
