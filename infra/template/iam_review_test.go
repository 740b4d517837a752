package template_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/awsreq"
	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
)

// The role-versus-code review before #31 and #30 were resolved: requests
// the code makes, as AWS would see them, against the transformed
// template's roles. Each test failed on the code and template before the
// review's fixes.

// sent records the DynamoDB requests a store makes (the JSON body of each,
// by operation) and answers each with an empty result.
type sent struct {
	mu   sync.Mutex
	reqs []sentRequest
}

type sentRequest struct {
	op   string // "DynamoDB_20120810.Query"
	body []byte
}

func (s *sent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, sentRequest{op: r.Header.Get("X-Amz-Target"), body: body})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = io.WriteString(w, `{"Items":[],"Count":0,"ScannedCount":0}`)
}

// recordingStore is a dynamo.Store whose tables are named by their
// logical ids (as the template tests' ARNs are) over a client that sends
// to rec.
func recordingStore(t *testing.T, rec *sent) *dynamo.Store {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	db := dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDREVIEW", "secret", "")})
	return dynamo.New(db, dynamo.Tables{Subjects: "SubjectsTable", Ledger: "LedgerTable", Suppression: "SuppressionTable",
		Requests: "RequestsTable", Ops: "OpsTable", Records: "RecordsTable"})
}

// asAWSSeesIt is the IAM request AWS evaluates for one DynamoDB request
// the code sent, as the local stack translates it (infra/awsreq: Select
// only when the request carries it, as IAM sees it).
func asAWSSeesIt(t *testing.T, r sentRequest) []iamsim.Request {
	t.Helper()
	tables := awsreq.Tables{}
	for _, id := range []string{"SubjectsTable", "LedgerTable", "SuppressionTable", "RequestsTable", "OpsTable", "RecordsTable"} {
		tables[id] = awsreq.Table{ARN: table(id), PartitionKey: "pk", SortKey: "sk"}
	}
	checks, err := awsreq.DynamoDB(r.op, r.body, tables, nil)
	if err != nil {
		t.Fatalf("%s: %v", r.op, err)
	}
	return checks
}

// Finding (a), high: an erasure confirmed by link still failed in AWS.
// After deleting the person's data, the fulfilment (rights.Fulfiller)
// lists the processors to tell with dynamo.Store.ProcessorsToTell, a Query
// of "PROC#" with a projection and no Select. The rights function's grant
// (template.yaml, RightsFunction, Sid ProcessorsToTellOfARequest)
// requires StringEquals dynamodb:Select SPECIFIC_ATTRIBUTES: a key the
// request does not carry fails StringEquals, so no statement allows the
// Query. The local evaluator allows it only because the gateway fills in
// Select's default (it no longer does). The operator's grant (no Select condition) lets the
// team's approval of an erasure through either way.
//
// The fix belongs in the code (Select: SPECIFIC_ATTRIBUTES on the Query),
// not in StringEqualsIfExists: a Query without a projection carries
// neither Select nor dynamodb:Attributes, and ForAllValues of a missing
// key is true, so IfExists would let the rights function read the
// processors' sealed credentials; the last check holds that.
func TestIAMReviewProcessorsToTellAsAWSSeesIt(t *testing.T) {
	rec := &sent{}
	if _, err := recordingStore(t, rec).ProcessorsToTell(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("ProcessorsToTell sent %d requests, want one Query", len(rec.reqs))
	}
	checks := asAWSSeesIt(t, rec.reqs[0])
	sets := policies(t)
	eval := iamsim.Shared(filepath.Join(localtest.Root(), ".tools", "node", "node_modules"))
	for _, who := range []string{"RightsFunction", "OperatorFunction"} {
		t.Run(who, func(t *testing.T) {
			for _, c := range checks {
				d, err := eval.Decide(context.Background(), sets[who], "arn:aws:sts::"+account+":assumed-role/x/"+who, c)
				if err != nil {
					t.Fatal(err)
				}
				if !d.Allowed() {
					t.Errorf("%s %s on %s %v: %s (%s)", who, c.Action, c.Resource, c.Context, d.Result,
						strings.Join(d.Explanation, "; "))
				}
			}
		})
	}
	check(t, []ask{{"RightsFunction", "dynamodb:Query", table("OpsTable"),
		map[string]any{"dynamodb:LeadingKeys": []string{"PROC#"}, "dynamodb:ReturnConsumedCapacity": "NONE"}, false}})
}

// Findings (b): grants no code path used. Each "false" row is a request
// the role allows today and no code of its holder makes; each "true" row
// is the request the code does make, so that narrowing the grant keeps it.
func TestIAMReviewGrantsNoCodePathUses(t *testing.T) {
	strip := []string{"agent_email", "answer", "correction_value", "details", "email", "mail_due", "name", "parent_email", "pk",
		"question", "recipient_email", "sk"}
	check(t, []ask{
		// PrivacyMaintenancePolicy, Sid ReapplyErasuresRecordAndSuppress:
		// [PutItem, UpdateItem] on [LedgerTable, SuppressionTable]. The
		// re-applied erasure puts ledger entries (RecordEvent, Suppress's
		// transaction) and updates suppression items (EraseBefore,
		// Suppress); it never updates the append-only ledger nor puts a
		// suppression item.
		{"PrivacyMaintenancePolicy", "dynamodb:PutItem", table("LedgerTable"), keys([]string{"S#a"}, "at", "event", "pk", "sk"), true},
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "lifted_at", "pk", "since", "sk"), true},
		{"PrivacyMaintenancePolicy", "dynamodb:UpdateItem", table("LedgerTable"), keys([]string{"S#a"}, "event", "pk", "sk"), false},
		{"PrivacyMaintenancePolicy", "dynamodb:PutItem", table("SuppressionTable"), keys([]string{"S#a"}, "pk", "since", "sk", "subject"), false},

		// MailerFunction, Sid StripErasedRequestAddress: UpdateItem on
		// RequestsTable, any attribute. The mailer only strips a finished
		// request's address (dynamo.Store.StripRequestAddress); it could
		// set a request's status or make any email due.
		{"MailerFunction", "dynamodb:UpdateItem", table("RequestsTable"), keys([]string{"R#r"}, strip...), true},
		{"MailerFunction", "dynamodb:UpdateItem", table("RequestsTable"), keys([]string{"R#r"}, "pk", "sk", "status"), false},

		// PreferencesFunction, Sid SuppressAndSayWhy, and FeedbackFunction,
		// Sid Suppress: UpdateItem on SuppressionTable, any attribute. Both
		// only add a reason (dynamo.Store.Suppress: since, subject); either
		// may mark the erasure's record lifted (lifted_at), which
		// reapply-erasures then skips after a restore.
		{"PreferencesFunction", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "pk", "since", "sk", "subject"), true},
		{"PreferencesFunction", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "lifted_at", "pk", "sk"), false},
		{"FeedbackFunction", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "pk", "since", "sk", "subject"), true},
		{"FeedbackFunction", "dynamodb:UpdateItem", table("SuppressionTable"), keys([]string{"S#a"}, "lifted_at", "pk", "sk"), false},

		// SweepFunction, Sid LoadHolds, and OperatorFunction, Sid
		// SubjectsForFulfilmentRestrictionTerminationAndHolds: Query on the
		// subjects table's by-list index (projection ALL), any list. Both
		// read only "holds" (Sweep.HeldSubjects, Store.Holds); either may
		// read every subscriber's subscription, address included.
		{"SweepFunction", "dynamodb:Query", table("SubjectsTable") + "/index/by-list", keys([]string{"holds"}), true},
		{"SweepFunction", "dynamodb:Query", table("SubjectsTable") + "/index/by-list", keys([]string{"subscribers"}), false},
		{"OperatorFunction", "dynamodb:Query", table("SubjectsTable") + "/index/by-list", keys([]string{"holds"}), true},
		{"OperatorFunction", "dynamodb:Query", table("SubjectsTable") + "/index/by-list", keys([]string{"subscribers"}), false},

		// RightsFunction, Sid ErasureDeletesTheSubject, and
		// OperatorFunction, Sids LedgerReadAndAppend and
		// SubjectsFor...: BatchWriteItem without dynamodb:Attributes, so a
		// batch may put whole items (a forged ledger entry, a subject's
		// item). The code's batches are deletes (Store.batchDelete), as
		// the sweep's and the maintenance policy's are held to.
		{"RightsFunction", "dynamodb:BatchWriteItem", table("SubjectsTable"), keys([]string{"S#a"}, "pk", "sk"), true},
		{"RightsFunction", "dynamodb:BatchWriteItem", table("LedgerTable"), keys([]string{"S#a"}, "event", "pk", "sk"), false},
		{"RightsFunction", "dynamodb:BatchWriteItem", table("SubjectsTable"), keys([]string{"S#a"}, "email", "pk", "sk"), false},
		// An erasure redacts the ledger (no batch): the operator's
		// batches of deletes are the subjects table's alone.
		{"OperatorFunction", "dynamodb:BatchWriteItem", table("LedgerTable"), keys([]string{"S#a"}, "pk", "sk"), false},
		{"OperatorFunction", "dynamodb:BatchWriteItem", table("LedgerTable"), keys([]string{"S#a"}, "event", "pk", "sk"), false},
	})
}
