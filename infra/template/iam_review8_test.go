package template_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/infra/awsreq"
	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The eighth role-versus-code review: the merges of 1c5f641..85ee7cb
// (the Platform's requests in a table of their own, the processors'
// mailboxes and digests, a restriction's lift told to the processors,
// regions, Store.Transition's new conditions; the unsubscribe's ALL_OLD
// and the confirmation's removal of the retention index attributes were
// reverted after review 8, and their rows follow the code as it is).
// Each changed code path runs through a real dynamo.Store against a
// recorder that answers per call (errors included, so that the branches
// taken only on a refused condition send their requests too); every
// request, translated as the local stack translates it (infra/awsreq), is
// asked of the transformed template's role of each function that runs
// it.

// answer8 is a recorded call's answer: an HTTP status and a body.
type answer8 func(op, tableName string, body []byte) (int, string)

// sent8 records each call a store sends and answers it (the review
// tests' recorder, review 7's too).
type sent8 struct {
	answer answer8
	mu     sync.Mutex
	reqs   []sentRequest
}

func (s *sent8) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	op := r.Header.Get("X-Amz-Target")
	s.mu.Lock()
	s.reqs = append(s.reqs, sentRequest{op: op, body: body})
	s.mu.Unlock()
	var in struct{ TableName string }
	_ = json.Unmarshal(body, &in)
	_, name, _ := strings.Cut(op, ".")
	status, out := s.answer(name, in.TableName, body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

// record8 runs calls against a store of tables over a recorder answering
// with answer, and returns each request as IAM evaluates it and the
// operations sent, in order (each with its table).
func record8(t *testing.T, tables dynamo.Tables, answer answer8,
	calls func(ctx context.Context, st *dynamo.Store) error) ([]iamsim.Request, []string) {
	t.Helper()
	return recordDB8(t, answer, func(ctx context.Context, db *dynamodb.Client) error { return calls(ctx, dynamo.New(db, tables)) })
}

// recordDB8 is record8 of calls made with a DynamoDB client.
func recordDB8(t *testing.T, answer answer8, calls func(ctx context.Context, db *dynamodb.Client) error) ([]iamsim.Request, []string) {
	t.Helper()
	rec := &sent8{answer: answer}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	db := dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDREVIEW", "secret", "")})
	if err := calls(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	var out []iamsim.Request
	var ops []string
	for _, r := range rec.reqs {
		_, name, _ := strings.Cut(r.op, ".")
		var in struct{ TableName string }
		_ = json.Unmarshal(r.body, &in)
		ops = append(ops, strings.TrimSuffix(name+" "+in.TableName, " "))
		checks, err := awsreq.DynamoDB(r.op, r.body, review7Tables(), nil)
		if err != nil {
			t.Fatalf("%s: %v", r.op, err)
		}
		out = append(out, checks...)
	}
	return out, ops
}

// ok8 answers every call as found-nothing, written.
func ok8(op, _ string, _ []byte) (int, string) {
	if op == "Query" || op == "Scan" {
		return 200, `{"Items":[],"Count":0,"ScannedCount":0}`
	}
	return 200, `{}`
}

// ccf8 is DynamoDB's ConditionalCheckFailedException, with the item as it
// was when item is not "" (ReturnValuesOnConditionCheckFailure ALL_OLD).
func ccf8(item string) (int, string) {
	b := `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"`
	if item != "" {
		b += `,"Item":` + item
	}
	return 400, b + `}`
}

// cancelled8 is a TransactionCanceledException refused at item at.
func cancelled8(at, of int) (int, string) {
	reasons := make([]string, of)
	for i := range reasons {
		reasons[i] = `{"Code":"None"}`
	}
	reasons[at] = `{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}`
	return 400, `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",` +
		`"message":"Transaction cancelled","CancellationReasons":[` + strings.Join(reasons, ",") + `]}`
}

// review8Sub is the subscription of review7Subject as stored: status
// (confirmed, or unsubscribed at a time), signup s1, its address.
func review8Sub(status string) string {
	return `{"pk":{"S":"S#` + string(review7Subject) + `"},"sk":{"S":"SUB"},"kind":{"S":"subscription"},"status":{"S":"` + status + `"},` +
		`"email":{"S":"ann@example.org"},"signup_id":{"S":"s1"},"signup_ids":{"SS":["s1"]},"consent_text_version":{"S":"c1"},` +
		`"unsubscribed_at":{"S":"2026-12-01T10:00:00.000000000Z"},"source":{"S":"footer"}}`
}

// Every request of the changed paths, against the role of each function
// (or managed policy) that runs it. A refusal here is a call that fails in
// AWS. Each case names the calls it must have sent (operation and table),
// so that an answer that sends a path down an early return fails here
// instead of passing on fewer calls.
func TestIAMReview8ChangedPathsAsAWSSeesThem(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	subject := review7Subject
	for _, c := range []struct {
		name   string
		who    []string
		tables dynamo.Tables
		answer answer8
		want   []string
		calls  func(ctx context.Context, st *dynamo.Store) error
	}{
		// dynamo.Store.Unsubscribe: the subscription's status and signup
		// read, a confirmed one's consent proof stamped (withdrawn_at and
		// its retention index entry), then the subscription ended.
		{name: "unsubscribe: the subscription read (status, signup_id), its proof stamped, then ended",
			who: []string{"PreferencesFunction", "UnsubscribeMailFunction", "RightsFunction", "OperatorFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "GetItem" && tn == "SubjectsTable" {
					return 200, `{"Item":` + review8Sub("confirmed") + `}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"TransactWriteItems", "GetItem SubjectsTable", "UpdateItem SubjectsTable", "UpdateItem SubjectsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				return st.Unsubscribe(ctx, subject, review7Event("unsubscribed"))
			}},
		// Under a suppression already there (its transaction refused):
		// the proof stamped, the subscription ended, the withdrawal
		// recorded alone.
		{name: "unsubscribe under a suppression already there",
			who: []string{"PreferencesFunction", "UnsubscribeMailFunction", "RightsFunction", "OperatorFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				switch {
				case op == "TransactWriteItems":
					return cancelled8(0, 2)
				case op == "GetItem" && tn == "SubjectsTable":
					return 200, `{"Item":` + review8Sub("confirmed") + `}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"TransactWriteItems", "GetItem SubjectsTable", "UpdateItem SubjectsTable", "UpdateItem SubjectsTable", "PutItem LedgerTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				return st.Unsubscribe(ctx, subject, review7Event("unsubscribed"))
			}},
		// A repeat: the subscription ended already (no proof to stamp),
		// the update refused.
		{name: "unsubscribe repeated: the subscription ended already",
			who: []string{"PreferencesFunction", "UnsubscribeMailFunction", "RightsFunction", "OperatorFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				switch {
				case op == "GetItem" && tn == "SubjectsTable":
					return 200, `{"Item":` + review8Sub("unsubscribed") + `}`
				case op == "UpdateItem" && tn == "SubjectsTable":
					return ccf8(review8Sub("unsubscribed"))
				}
				return ok8(op, tn, body)
			},
			want: []string{"TransactWriteItems", "GetItem SubjectsTable", "UpdateItem SubjectsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				return st.Unsubscribe(ctx, subject, review7Event("unsubscribed"))
			}},
		// The confirmation: the signup read whole, the subscription
		// confirmed, the proof, the entry, the suppressions it lifts.
		{name: "confirm", who: []string{"FormsFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "GetItem" && tn == "SubjectsTable" {
					return 200, `{"Item":` + review8Sub("pending") + `}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"GetItem SubjectsTable", "TransactWriteItems"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.ConfirmSubscription(ctx, subject, "s1", review7Event("subscription_confirmed"))
				return err
			}},
		// A second click: the transaction refused, the subscription read
		// to tell "confirmed already" from a stale link.
		{name: "confirm: a second click", who: []string{"FormsFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				switch {
				case op == "GetItem" && tn == "SubjectsTable" && strings.Contains(string(body), `"ConsistentRead":true`):
					return 200, `{"Item":` + review8Sub("confirmed") + `}`
				case op == "TransactWriteItems":
					return cancelled8(0, 3)
				}
				return ok8(op, tn, body)
			},
			want: []string{"GetItem SubjectsTable", "TransactWriteItems", "GetItem SubjectsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				done, err := st.ConfirmSubscription(ctx, subject, "s1", review7Event("subscription_confirmed"))
				if err == nil && done {
					t.Error("ConfirmSubscription of a confirmed signup: done, want confirmed already")
				}
				return err
			}},
		// The preferences page's topics emptied: an unsubscription.
		{name: "preferences: topics emptied", who: []string{"PreferencesFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "GetItem" && tn == "SubjectsTable" {
					return 200, `{"Item":` + review8Sub("confirmed") + `}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"TransactWriteItems", "GetItem SubjectsTable", "UpdateItem SubjectsTable", "UpdateItem SubjectsTable", "GetItem SubjectsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.SetTopics(ctx, subject, nil, review7Event("unsubscribed"))
				return err
			}},
		// The mailer's processor mailbox (5b2c030): the period claimed
		// (open, and closed: then the request held), the mailboxes due,
		// a mailbox's held requests, each delivery re-read, mailed or
		// refused, the wait ended (with and without a later hold).
		{name: "mailer: a processor's mailbox and its digest", who: []string{"MailerFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				b := string(body)
				switch {
				case op == "UpdateItem" && tn == "OpsTable" && strings.Contains(b, `attribute_not_exists(pk) OR`) && strings.Contains(b, `PMBOX#p2"`):
					return ccf8("")
				case op == "Query" && tn == "OpsTable" && strings.Contains(b, `"by-due"`):
					return 200, `{"Items":[{"pk":{"S":"PMBOX#` + pmProcessor + `"},"sk":{"S":"WINDOW"},"due":{"S":"mailbox"},"next_at":{"N":"1"}}],"Count":1,"ScannedCount":1}`
				case op == "Query" && tn == "OpsTable":
					return 200, `{"Items":[{"pk":{"S":"PMBOX#` + pmProcessor + `"},"sk":{"S":"WINDOW"},"held_at":{"N":"5"}},` +
						`{"pk":{"S":"PMBOX#` + pmProcessor + `"},"sk":{"S":"R#` + pmRequest + `"}}],"Count":2,"ScannedCount":2}`
				case op == "GetItem" && tn == "RequestsTable":
					return 200, `{"Item":` + pmDelivery + `}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"UpdateItem OpsTable", "UpdateItem OpsTable", "TransactWriteItems", "Query OpsTable", "Query OpsTable",
				"GetItem RequestsTable", "UpdateItem RequestsTable", "UpdateItem RequestsTable", "DeleteItem OpsTable", "UpdateItem OpsTable",
				"UpdateItem OpsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				if open, err := st.ClaimMailbox(ctx, pmProcessor, now, time.Hour); err != nil || !open {
					t.Errorf("ClaimMailbox: %v, %v: want open", open, err)
				}
				if open, err := st.ClaimMailbox(ctx, "p2", now, time.Hour); err != nil || open {
					t.Errorf("ClaimMailbox of p2: %v, %v: want closed", open, err)
				}
				if err := st.HoldForMailbox(ctx, "p2", pmRequest, now); err != nil {
					return err
				}
				due, err := st.MailboxesDue(ctx, now)
				if err != nil {
					return err
				}
				held, heldAt, err := st.MailboxHeld(ctx, due[0])
				if err != nil {
					return err
				}
				if _, err := st.Delivery(ctx, held[0], due[0]); err != nil {
					return err
				}
				if err := st.DeliveryMailed(ctx, held[0], due[0]); err != nil {
					return err
				}
				if err := st.DeliveryRefused(ctx, held[0], due[0], "refused", now); err != nil {
					return err
				}
				if err := st.MailboxSent(ctx, due[0], held, heldAt); err != nil {
					return err
				}
				return st.MailboxSent(ctx, due[0], nil, "")
			}},
		// The team's lift of a restriction (d239e40, rights.Desk.Lift,
		// OperatorFunction only): the request's deliveries read, the
		// processors still registered listed, each delivery by email to
		// one of them given the address again, lifted_at and its mail_due.
		{name: "desk: a restriction's lift told to the processors", who: []string{"OperatorFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "Query" && tn == "RequestsTable" && !strings.Contains(string(body), "by-subject") {
					d := strings.Replace(pmDelivery, `"type":{"S":"erasure"}`, `"type":{"S":"restriction"}`, 1)
					return 200, `{"Items":[` + d + `],"Count":1,"ScannedCount":1}`
				}
				if op == "Query" && tn == "OpsTable" {
					return 200, `{"Items":[{"processor_id":{"S":"` + pmProcessor + `"},"name":{"S":"Drift"},"contact_email":{"S":"` + pmContact +
						`"}}],"Count":1,"ScannedCount":1}`
				}
				return ok8(op, tn, body)
			},
			// The last lift (lifts): the person's requests read (by-subject),
			// and each processor told once of every restriction still
			// unlifted: the first delivery emailed, a second one of the same
			// processor marked lifted without an email.
			want: []string{"Query RequestsTable", "Query OpsTable", "Query RequestsTable", "UpdateItem RequestsTable",
				"Query RequestsTable", "UpdateItem RequestsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				if _, err := st.SubjectRequests(ctx, review7Subject, time.Time{}); err != nil {
					return err
				}
				return st.TellLift(ctx, []string{pmRequest, "r2"}, "ann@example.org", now)
			}},
		// Regions (b4e49c1, d97093e): the operator registers a controller
		// with its region, records the region of one registered before
		// (and is refused: not found, recorded already); the Platform
		// reads the controller's credential with its region.
		{name: "operator: a controller's region", who: []string{"OperatorFunction"},
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "TransactWriteItems" && strings.Contains(string(body), `"gone"`) {
					return cancelled8(0, 3)
				}
				if op == "TransactWriteItems" && strings.Contains(string(body), `"set"`) {
					return cancelled8(1, 3)
				}
				return ok8(op, tn, body)
			},
			want: []string{"TransactWriteItems", "TransactWriteItems", "TransactWriteItems", "TransactWriteItems", "Query OpsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				e := review7TeamEvent("opendsr_controller_issued")
				if err := st.PutController(ctx, privacy.Controller{ID: "eu-acme", Name: "Acme", SecretHash: "h", Region: "eu"}, e); err != nil {
					return err
				}
				if err := st.SetControllerRegion(ctx, "acme", "eu", e); err != nil {
					return err
				}
				if err := st.SetControllerRegion(ctx, "gone", "eu", e); err != privacy.ErrNotFound {
					t.Errorf("SetControllerRegion of gone: %v, want not found", err)
				}
				if err := st.SetControllerRegion(ctx, "set", "eu", e); err != privacy.ErrExists {
					t.Errorf("SetControllerRegion of set: %v, want exists", err)
				}
				_, err := st.Controllers(ctx)
				return err
			}},
		{name: "platform: the controller read with its region", who: []string{"OpenDSRFunction"}, tables: platformTables7,
			answer: func(op, tn string, body []byte) (int, string) {
				if op == "GetItem" && tn == "OpsTable" {
					return 200, `{"Item":{"pk":{"S":"CTRL#acme"},"sk":{"S":"CTRL"},"controller_id":{"S":"acme"},"secret_hash":{"S":"h"},` +
						`"name":{"S":"Acme"},"created_at":{"S":"2026-01-01T00:00:00Z"},"region":{"S":"eu"}}}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"GetItem OpsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				c, err := st.LookupController(ctx, "acme")
				if err == nil && c.Region != "eu" {
					t.Errorf("LookupController: region %q, want eu", c.Region)
				}
				return err
			}},
		// Store.Transition's conditions (53ca841): a controller's cancel
		// of a Platform request (finishes: its retention entry).
		{name: "platform: a controller cancels", who: []string{"OpenDSRFunction"}, tables: platformTables7,
			want: []string{"TransactWriteItems"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				return st.Transition(ctx, "r9", privacy.Transition{Step: privacy.StepCancel, Status: privacy.RequestCancelled,
					By: "controller:acme"}, privacy.Event{At: now})
			}},
		// The requester's answer and the old address's stop (RightsFunction).
		{name: "rights: an answer and a stop", who: []string{"RightsFunction"},
			want: []string{"TransactWriteItems", "TransactWriteItems"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				e := review7Event(privacy.EventInformationProvided)
				if err := st.Transition(ctx, "r1", privacy.Transition{Step: privacy.StepAnswer, Status: privacy.RequestAwaitingReview,
					MailDue: privacy.Due(privacy.MailAnswered, "n"), Answer: privacy.Answer{Text: "a", Nonce: "n"}}, e); err != nil {
					return err
				}
				return st.Transition(ctx, "r1", privacy.Transition{Step: privacy.StepStop, Status: privacy.RequestCancelled,
					MailDue: privacy.Due(privacy.MailStopped, "n"), By: "requester"}, e)
			}},
		// The desk's: a lift, an extension, a question, a completion.
		{name: "desk: lift, extend, ask, complete", who: []string{"OperatorFunction"},
			want: []string{"TransactWriteItems", "TransactWriteItems", "TransactWriteItems", "TransactWriteItems"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				e := review7Event(privacy.EventRestrictionLiftNotified)
				for _, tr := range []privacy.Transition{
					{Step: privacy.StepLift, MailDue: privacy.Due(privacy.MailLifted, "n"), Reason: "r", Lifted: true},
					{Step: privacy.StepExtend, Extend: now.AddDate(0, 2, 0), ExtensionReason: "complex", By: "dpo"},
					{Step: privacy.StepAsk, Status: privacy.RequestWaitingForInformation, Ask: privacy.Question{Text: "q?",
						From: privacy.RequestAwaitingReview, Nonce: "n"}, By: "dpo"},
					{Step: privacy.StepComplete, From: []privacy.Status{privacy.RequestAwaitingReview}, Status: privacy.RequestCompleted,
						MailDue: privacy.Due(privacy.MailCorrected, "n"), Reason: "done", By: "dpo"},
				} {
					if err := st.Transition(ctx, "r1", tr, e); err != nil {
						return err
					}
				}
				return nil
			}},
		// privacyctl platform upgrade-records (b8a5a1a, PrivacyUpgradePolicy):
		// an OpenDSR request still in the site's table moved (a Put there
		// and a Delete here, conditioned on the status and attempted_at
		// as read), one in the Platform's without identity keys given them.
		{name: "upgrade: the Platform's requests moved and keyed", who: []string{"PrivacyUpgradePolicy"},
			answer: func(op, tn string, body []byte) (int, string) {
				req := `{"pk":{"S":"R#o1"},"sk":{"S":"REQUEST"},"kind":{"S":"rights_request"},"source":{"S":"opendsr"},` +
					`"controller_id":{"S":"acme"},"subject":{"S":"acme#k1"},"status":{"S":"completed"},` +
					`"attempted_at":{"S":"2026-12-01T10:00:00Z"},"type":{"S":"erasure"},"regulation":{"S":"gdpr"}}`
				if op == "Scan" && (tn == "RequestsTable" || tn == "PlatformRequestsTable") {
					return 200, `{"Items":[` + req + `],"Count":1,"ScannedCount":1}`
				}
				return ok8(op, tn, body)
			},
			want: []string{"Scan RecordsTable", "Scan RequestsTable", "TransactWriteItems", "Scan PlatformRequestsTable", "UpdateItem PlatformRequestsTable"},
			calls: func(ctx context.Context, st *dynamo.Store) error {
				n, err := st.UpgradeLegacyRecords(ctx, false)
				if err == nil && (n.Moved != 1 || n.Requests != 1) {
					t.Errorf("upgrade: %+v, want one request moved and one keyed", n)
				}
				return err
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tables, answer := c.tables, c.answer
			if tables.Subjects == "" && tables.Requests == "" {
				tables = siteTables7
			}
			if answer == nil {
				answer = ok8
			}
			reqs, ops := record8(t, tables, answer, c.calls)
			if strings.Join(ops, ", ") != strings.Join(c.want, ", ") {
				t.Errorf("sent %v, want %v", ops, c.want)
			}
			for _, who := range c.who {
				for _, r := range decide7(t, who, reqs) {
					t.Errorf("%s: %s", who, r)
				}
			}
		})
	}
}

// Finding (d), medium: UnsubscribeMailFunctionRole's Sid Subscriptions
// (template.yaml, the comment above it: "A read must name what it reads")
// holds the function, which the internet reaches by email, to the
// subscription's attributes it names. c416cc9 made dynamo.Store.Unsubscribe
// update with ReturnValues ALL_OLD (reverted since), and the grant had no
// dynamodb:ReturnValues condition: an
// UpdateItem that names only allowed attributes returns the whole item
// (the address, the name, the topics: ALL_OLD "returns all of the
// attributes of the item", UpdateItem API reference), so the attribute
// bound no longer bounds what the role reads. AWS's own attribute-limited
// grant adds StringEqualsIfExists dynamodb:ReturnValues [NONE,
// UPDATED_OLD, UPDATED_NEW] for this reason (DynamoDB developer guide,
// "Using IAM policy conditions for fine-grained access control", "Grant
// permissions to limit access to specific attributes"; AWS Knowledge
// Center, "dynamodb-table-restrict-attributes": dynamodb:ReturnValues
// "allows only requests where ReturnValues is NONE or UPDATED_OLD" in such
// a policy). That condition
// refuses any ALL_OLD now that the code reads only what it names again. A failed condition's
// ReturnValuesOnConditionCheckFailure ALL_OLD returns the item too; the
// review found no DynamoDB condition key for that parameter (the Service
// Authorization Reference's keys include dynamodb:ReturnValues; the full
// list was not checked), in which case an UpdateItem whose condition
// fails reads an item of the subjects table without writing it (said in
// docs/security.md, "Left open"). (Failed on the template under review:
// the ALL_OLD read was allowed.)
func TestIAMReview8UnsubscribeMailReadsOnlyWhatItNames(t *testing.T) {
	subjects := table("SubjectsTable")
	person := "S#" + string(review7Subject)
	update := func(returnValues string, attrs ...string) map[string]any {
		ctx := keys([]string{person}, attrs...)
		ctx["dynamodb:ReturnValues"] = returnValues
		return ctx
	}
	check(t, []ask{
		// What the code must still do, with what it needs back.
		{"UnsubscribeMailFunction", "dynamodb:UpdateItem", subjects, update("UPDATED_OLD", "pk", "sk", "status", "unsubscribed_at", "signup_id"), true},
		{"UnsubscribeMailFunction", "dynamodb:UpdateItem", subjects, update("NONE", "pk", "sk", "withdrawn_at", "retention_pk", "retention_at"), true},
		// The whole item back from an update that names two attributes.
		{"UnsubscribeMailFunction", "dynamodb:UpdateItem", subjects, update("ALL_OLD", "pk", "sk", "to"), false},
		{"UnsubscribeMailFunction", "dynamodb:UpdateItem", subjects, update("ALL_NEW", "pk", "sk", "to"), false},
	})
}

// The sweep over the Platform's requests (b8a5a1a: SweepFunction, class
// completed_platform_request): what is due read from the table's
// retention index and the items themselves, one refiled, then deleted
// (a request: its subject's holds checked in the same transaction). Every request must be allowed. (Passed on the template
// under review.)
func TestIAMReview8SweepOfThePlatformsRequests(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	req := `{"pk":{"S":"R#o1"},"sk":{"S":"REQUEST"},"kind":{"S":"rights_request"},"source":{"S":"opendsr"},"subject":{"S":"acme#k1"},` +
		`"status":{"S":"completed"},"completed_at":{"S":"2023-12-01T10:00:00Z"},"retention_pk":{"S":"0"},"retention_at":{"N":"1"}}`
	answer := func(op, tn string, body []byte) (int, string) {
		switch {
		case op == "Query" && tn == "PlatformRequestsTable":
			return 200, `{"Items":[{"pk":{"S":"R#o1"},"sk":{"S":"REQUEST"},"retention_pk":{"S":"0"},"retention_at":{"N":"1"}}],"Count":1,"ScannedCount":1}`
		case op == "BatchGetItem":
			return 200, `{"Responses":{"PlatformRequestsTable":[` + req + `]},"UnprocessedKeys":{}}`
		}
		return ok8(op, tn, body)
	}
	reqs, ops := recordDB8(t, answer, func(ctx context.Context, db *dynamodb.Client) error {
		sw := &dynamo.Sweep{DB: db, Tables: map[privacy.Table]string{privacy.TableSubjects: "SubjectsTable",
			privacy.TablePlatformRequests: "PlatformRequestsTable"}}
		items, _, _, err := sw.DuePage(ctx, privacy.TablePlatformRequests, 0, now, 100, nil)
		if err != nil {
			return err
		}
		if len(items) != 1 {
			t.Fatalf("DuePage: %d items, want 1", len(items))
		}
		if err := sw.Refile(ctx, privacy.TablePlatformRequests, items[0], now.AddDate(1, 0, 0)); err != nil {
			return err
		}
		more, _, _, err := sw.DuePage(ctx, privacy.TablePlatformRequests, 0, now, 100, nil)
		if err != nil {
			return err
		}
		_, _, err = sw.DeleteItems(ctx, privacy.TablePlatformRequests, more, now)
		return err
	})
	want := "Query PlatformRequestsTable, BatchGetItem, UpdateItem PlatformRequestsTable, Query PlatformRequestsTable, BatchGetItem, TransactWriteItems"
	if strings.Join(ops, ", ") != want {
		t.Errorf("sent %v, want %s", ops, want)
	}
	for _, r := range decide7(t, "SweepFunction", reqs) {
		t.Errorf("SweepFunction: %s", r)
	}
}

// Finding (d), low: who may reach the Platform's requests. The template's
// comment on PlatformRequestsTable ("Granted to the OpenDSR functions,
// the callbacks, the sweep and the maintenance policy only"),
// docs/data-model.md ("Granted only to OpenDSRFunction,
// OpenDSRWorkerFunction, CallbackFunction …, the sweep … and the
// maintenance and upgrade policies") and docs/security.md (the seventh
// review's row: "only the sweep and the maintenance/upgrade policies")
// leave out PrivacyReplayPolicy, which reads the table's stream and
// writes replayed_at on any of its items (Sids ReplayReadsTheStreams,
// ReplayMarksTheItems), and the template's comment leaves out
// PrivacyUpgradePolicy too (Sids UpgradeRecordsFind, MovePlatformRequestsIn:
// a Put of any item). The holders of the table, as the transformed
// template grants it, must be the ones the documents name. (Fails on the
// template under review: PrivacyReplayPolicy is granted it.)
func TestIAMReview8WhoReachesThePlatformsRequests(t *testing.T) {
	// #35: the deadline digest and the team's board read the Platform's
	// open requests (platformReaders), through a Query bounded to what
	// they show: asked with such a projection too, or a bounded grant
	// would hold the table unseen.
	named := []string{"OpenDSRFunction", "OpenDSRWorkerFunction", "CallbackFunction", "SweepFunction",
		"PrivacyMaintenancePolicy", "PrivacyUpgradePolicy", "PrivacyReplayPolicy", "PrivacyBackfillPolicy",
		"DeadlineWatchFunction", "OperatorFunction"}
	sets := policies(t)
	eval := iamsim.Shared(filepath.Join(localtest.Root(), ".tools", "node", "node_modules"))
	var holders []string
	for who, set := range sets {
	asks:
		for _, a := range requestsTableActions("PlatformRequestsTable") {
			ctxs := []map[string]any{nil}
			switch a.action {
			case "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem":
				ctxs = []map[string]any{keys([]string{"R#1"}, "pk", "sk", "replayed_at")}
			case "dynamodb:Query":
				ctxs = append(ctxs, summary(platformSummary...))
			}
			for _, ctx := range ctxs {
				d, err := eval.Decide(context.Background(), set, "arn:aws:sts::"+account+":assumed-role/x/"+who,
					iamsim.Request{Action: a.action, Resource: a.resource, Context: ctx})
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed() {
					holders = append(holders, who)
					break asks
				}
			}
		}
	}
	slices.Sort(holders)
	slices.Sort(named)
	if !slices.Equal(holders, named) {
		t.Errorf("granted PlatformRequestsTable: %v; the template and docs name %v", holders, named)
	}
}
