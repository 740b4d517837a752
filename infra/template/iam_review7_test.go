package template_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/awsreq"
	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The seventh role-versus-code review: the changes since 2ea1028 (the
// ledger's seal, signer and roots route; erasure by redaction; the
// consent's proof; the team's ledger entries, lift asks, report and
// audit), shared/processor, shared/opendsr and the OpenDSR functions
// excepted. The requests each changed code path sends, recorded as the
// SDK sends them and translated as the local stack translates them
// (infra/awsreq), are asked of the transformed template's roles.
//
// Unlike the sixth review's recorder (which answers every request with
// nothing found), this one answers per operation and table, so that the
// branches taken only when something is found (the consent's proof of a
// confirmed subscription, an erasure's redaction of an entry with a
// detail, a sealed day's leaves) send their requests too.

const review7Subject = privacy.SubjectID("abababababababababababababababababababababababababababababababab")

// review7Tables are the tables as awsreq needs them, with the indexes the
// recorded paths query (the Platform's too: iam_review7_platform_test.go).
func review7Tables() awsreq.Tables {
	tables := awsreq.Tables{}
	for _, id := range []string{"SubjectsTable", "LedgerTable", "SuppressionTable", "RequestsTable", "PlatformRequestsTable", "OpsTable",
		"RecordsTable", "LedgerRootsTable"} {
		tables[id] = awsreq.Table{ARN: table(id), PartitionKey: "pk", SortKey: "sk", Indexes: map[string][2]string{}}
	}
	for _, id := range []string{"RequestsTable", "PlatformRequestsTable"} {
		tables[id].Indexes["by-subject"] = [2]string{"subject", "received_at"}
		tables[id].Indexes["by-status-due"] = [2]string{"status", "due_at"}
		tables[id].Indexes["by-group"] = [2]string{"group_key", "received_at"}
	}
	tables["RecordsTable"].Indexes["by-controller"] = [2]string{"controller_id", "updated_at"}
	tables["LedgerTable"].Indexes["by-day"] = [2]string{"day", "sk"}
	tables["SubjectsTable"].Indexes["by-list"] = [2]string{"list_pk", "list_sk"}
	// The mailer's retry queue and the mailboxes due; the Platform's
	// requests' retention index.
	tables["OpsTable"].Indexes["by-due"] = [2]string{"due", "next_at"}
	tables["PlatformRequestsTable"].Indexes["by-retention"] = [2]string{"retention_pk", "retention_at"}
	tables["SuppressionTable"].Indexes["by-retention"] = [2]string{"retention_pk", "retention_at"} // iam_suppressed_test.go
	return tables
}

// answers7 answers a recorded request by operation and table: a GetItem
// of a subjects item finds a confirmed subscription (signup s1, a
// sentence version), a Query of the ledger or the subjects table finds
// one entry with a detail, one of the roots table a sealed day; the rest
// find nothing.
func answers7(op, tableName string, body []byte) string {
	entry := `{"pk":{"S":"S#` + string(review7Subject) + `"},"sk":{"S":"2026-12-01T10:00:00.000000000Z#e1"},` +
		`"event":{"S":"subscription_confirmed"},"at":{"S":"2026-12-01T10:00:00.000000000Z"},"day":{"S":"2026-12-01"},` +
		`"detail":{"M":{"source_ip":{"S":"192.0.2.1"},"consent_text_version":{"S":"c1"}}},"salt":{"S":"00"},` +
		`"detail_sha256":{"S":"x"},"h":{"S":"y"}}`
	switch {
	case op == "GetItem" && tableName == "SubjectsTable":
		return `{"Item":{"pk":{"S":"S#` + string(review7Subject) + `"},"sk":{"S":"SUB"},"kind":{"S":"subscription"},"status":{"S":"confirmed"},` +
			`"signup_id":{"S":"s1"},"signup_ids":{"SS":["s1"]},"consent_text_version":{"S":"c1"},"source":{"S":"footer"}}}`
	case op == "GetItem" && tableName == "OpsTable":
		return `{"Item":{"pk":{"S":"LIFTASK"},"sk":{"S":"` + string(review7Subject) + `"},"reasons":{"S":"complained"},` +
			`"asked_by":{"S":"arn:aws:iam::000000000000:user/a"},"asked_at":{"S":"2026-12-01T10:00:00.000000000Z"},"reason":{"S":"r"}}}`
	case op == "Query" && tableName == "LedgerTable":
		return `{"Items":[` + entry + `],"Count":1,"ScannedCount":1}`
	case op == "Query" && tableName == "LedgerRootsTable" && strings.Contains(string(body), `"LEAVES#`):
		return `{"Items":[{"pk":{"S":"LEAVES#2026-12-01"},"sk":{"S":"r#0000"},"leaves":{"S":"[]"}}],"Count":1,"ScannedCount":1}`
	case op == "Query" && tableName == "LedgerRootsTable":
		return `{"Items":[{"pk":{"S":"ROOT"},"sk":{"S":"2026-12-01"},"jws":{"S":"j"},"leaves":{"N":"0"},"root":{"S":"r"},` +
			`"pages":{"N":"1"},"signed_at":{"S":"2026-12-02T00:10:00Z"}}],"Count":1,"ScannedCount":1}`
	case op == "Query" && tableName == "SuppressionTable":
		return `{"Items":[{"pk":{"S":"S#` + string(review7Subject) + `"},"sk":{"S":"erased"},"since":{"S":"2026-12-01T10:00:00.000000000Z"}}],"Count":1,"ScannedCount":1}`
	case op == "Query", op == "Scan":
		return `{"Items":[],"Count":0,"ScannedCount":0}`
	}
	return `{}`
}

// sent7 records each DynamoDB request a store sends and answers it with
// answer (by operation, table and body), so the branches that run only
// when something is found send their requests too.
// requests7 runs calls against a store over the recorder answering with
// answers7 and returns each request as IAM evaluates it.
func requests7(t *testing.T, calls func(ctx context.Context, st *dynamo.Store) error) []iamsim.Request {
	t.Helper()
	out, ops := record7(t, answers7, calls)
	if len(ops) == 0 {
		t.Fatal("the calls sent no request")
	}
	return out
}

// record7 runs calls against a store over a recorder answering with
// answer, and returns each request as IAM evaluates it and the
// operations sent, in order.
func record7(t *testing.T, answer func(op, tableName string, body []byte) string,
	calls func(ctx context.Context, st *dynamo.Store) error) ([]iamsim.Request, []string) {
	t.Helper()
	return record7In(t, siteTables7, answer, calls)
}

// siteTables7 are the tables as the site's functions name them (the
// template's logical ids); the Platform's functions name theirs as
// their REQUESTS_TABLE (platformTables7).
var (
	siteTables7 = dynamo.Tables{Subjects: "SubjectsTable", Ledger: "LedgerTable", Suppression: "SuppressionTable",
		Requests: "RequestsTable", Ops: "OpsTable", Records: "RecordsTable", LedgerRoots: "LedgerRootsTable",
		PlatformRequests: "PlatformRequestsTable"}
	platformTables7 = dynamo.Tables{Ops: "OpsTable", Records: "RecordsTable", Suppression: "SuppressionTable",
		Requests: "PlatformRequestsTable", PlatformRequests: "PlatformRequestsTable"}
)

// record7In is record7 over a store of tables: record8 answering every
// call with HTTP 200, its operations named without their table.
func record7In(t *testing.T, tables dynamo.Tables, answer func(op, tableName string, body []byte) string,
	calls func(ctx context.Context, st *dynamo.Store) error) ([]iamsim.Request, []string) {
	t.Helper()
	out, ops := record8(t, tables, func(op, tableName string, body []byte) (int, string) { return 200, answer(op, tableName, body) }, calls)
	for i, op := range ops {
		ops[i], _, _ = strings.Cut(op, " ")
	}
	return out, ops
}

// decide7 asks who's policies about each request and returns the
// refused ones, explained.
func decide7(t *testing.T, who string, reqs []iamsim.Request) []string {
	t.Helper()
	set := policies(t)[who]
	if set == nil {
		t.Fatalf("%s: no policies", who)
	}
	eval := iamsim.Shared(filepath.Join(localtest.Root(), ".tools", "node", "node_modules"))
	var refused []string
	for _, r := range reqs {
		d, err := eval.Decide(context.Background(), set, "arn:aws:sts::"+account+":assumed-role/x/"+who, r)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed() {
			refused = append(refused, r.Action+" on "+r.Resource+" "+js(r.Context)+": "+d.Result+" ("+strings.Join(d.Explanation, "; ")+")")
		}
	}
	return refused
}

func review7Event(name privacy.EventName) privacy.Event {
	return privacy.Event{Subject: review7Subject, Name: name, At: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), Ref: "r1",
		Purpose: privacy.PurposeMarketing, LegalBasis: privacy.BasisConsent, PolicyVersion: "v2",
		Detail: map[string]string{"source_ip": "192.0.2.1", "user_agent": "ua", "channel": "link"}}
}

func review7TeamEvent(name privacy.EventName) privacy.Event {
	e := review7Event(name)
	e.Subject, e.Ref = privacy.TeamSubject, string(review7Subject)
	e.Detail = map[string]string{"by": "arn:aws:iam::000000000000:user/dpo", "reason": "court order 12"}
	return e
}

// What every changed code path in scope sends, as AWS evaluates it,
// against the role of each function that runs it. Every request must be
// allowed: a refusal is a call that fails in AWS. (All passed on the
// template under review: the review found no refused DynamoDB call in
// scope. They hold the grants to the code: narrowing one below what its
// code sends, or a code path that starts sending something its role does
// not grant, fails here.)
func TestIAMReview7ChangedPathsAsAWSSeesThem(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	subject := review7Subject
	for _, c := range []struct {
		name  string
		who   []string
		calls func(ctx context.Context, st *dynamo.Store) error
	}{
		// Every unsubscribe path: the suppression and its sealed entry,
		// the consent's proof read (status, signup_id) and stamped
		// (withdrawn_at and its due time), the subscription ended.
		// (UnsubscribeMailFunction's grant is held to attributes: its
		// Forward is read first.)
		{"unsubscribe a confirmed subscriber", []string{"PreferencesFunction", "UnsubscribeMailFunction", "RightsFunction", "OperatorFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				return st.Unsubscribe(ctx, subject, review7Event("unsubscribed"))
			}},
		{"mailto: the forward first", []string{"UnsubscribeMailFunction", "PreferencesFunction"},
			func(ctx context.Context, st *dynamo.Store) error { _, _, err := st.Forward(ctx, subject); return err }},
		// The preferences page's topics emptied is an unsubscription;
		// its form posts read the suppressions.
		{"preferences: topics emptied, suppressions read", []string{"PreferencesFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				if _, err := st.Suppressions(ctx, subject); err != nil {
					return err
				}
				_, err := st.SetTopics(ctx, subject, nil, review7Event("unsubscribed"))
				return err
			}},
		// A bounce or complaint: a reason and its sealed entry.
		{"feedback suppresses", []string{"FeedbackFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				return st.Suppress(ctx, subject, privacy.SuppressComplained, review7Event("suppressed_complained"))
			}},
		// A rights objection or withdrawal: unsubscribed, then its own reason.
		{"rights objection", []string{"RightsFunction", "OperatorFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				if err := st.Unsubscribe(ctx, subject, review7Event("unsubscribed")); err != nil {
					return err
				}
				return st.Suppress(ctx, subject, privacy.SuppressObjected, review7Event("objection_done"))
			}},
		// The confirmation: the signup read whole, the proof put, the
		// entry sealed, the suppressions a confirmation lifts deleted.
		{"confirm a signup", []string{"FormsFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.ConfirmSubscription(ctx, subject, "s1", review7Event("subscription_confirmed"))
				return err
			}},
		// An erasure redacts the entry the ledger's query finds (it has
		// a detail) and records itself, sealed.
		{"erase: redact the ledger", []string{"RightsFunction", "OperatorFunction", "PrivacyMaintenancePolicy"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, _, err := st.EraseBefore(ctx, subject, time.Time{}, "r1", review7Event("erased"))
				return err
			}},
		// The team's typed actions, each with its team entry.
		{"team: hold placed and lifted", []string{"OperatorFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				h := privacy.Hold{Subject: subject, Reason: "court order 12", PlacedBy: "dpo", PlacedAt: now, Until: now.AddDate(1, 0, 0)}
				if err := st.PlaceHold(ctx, h, review7Event("legal_hold_placed"), review7TeamEvent("legal_hold_placed")); err != nil {
					return err
				}
				return st.LiftHold(ctx, subject, review7Event("legal_hold_lifted"), review7TeamEvent("legal_hold_lifted"))
			}},
		{"team: policy published", []string{"OperatorFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				return st.PublishPolicy(ctx, privacy.PolicyVersion{Version: "v3", Effective: now, Summary: "s", PublishedAt: now, PublishedBy: "dpo"},
					review7TeamEvent("policy_published"))
			}},
		{"team: a lift asked, read and approved; an erasure's lift", []string{"OperatorFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				a := privacy.LiftAsk{Subject: subject, Reasons: []string{privacy.SuppressComplained}, AskedBy: "a", AskedAt: now, Reason: "r"}
				if err := st.AskLift(ctx, a, review7TeamEvent("suppression_lift_asked")); err != nil {
					return err
				}
				got, _, err := st.LiftAsk(ctx, subject)
				if err != nil {
					return err
				}
				if err := st.TeamLift(ctx, subject, got.Reasons, &got, review7Event("suppression_lifted"),
					review7TeamEvent("suppression_lift_approved")); err != nil {
					return err
				}
				return st.TeamLift(ctx, subject, []string{privacy.SuppressErased}, nil, review7Event("suppression_lifted"),
					review7TeamEvent("suppression_lifted"))
			}},
		{"team: the audit reads the team's entries", []string{"OperatorFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.LedgerBetween(ctx, privacy.TeamSubject, now.AddDate(0, -1, 0), now)
				return err
			}},
		{"team: the report reads the requests by status", []string{"OperatorFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.RequestsByStatus(ctx, privacy.RequestCompleted, time.Time{})
				return err
			}},
		// The signer: the last day sealed, a day from the index, the
		// key published, the day's leaves and root.
		{"signer seals a day", []string{"LedgerSignerFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				if _, err := st.LastSealed(ctx); err != nil {
					return err
				}
				if _, err := st.LedgerDay(ctx, "2026-12-06"); err != nil {
					return err
				}
				if err := st.PublishKey(ctx, privacy.PublishedKey{ID: "k1", JWK: "{}", PublishedAt: now}); err != nil {
					return err
				}
				return st.SaveSealed(ctx, ledger.Sealed{Day: "2026-12-06", JWS: "j",
					Leaves: []ledger.Leaf{{PK: "S#a", SK: "2026-12-06T00:00:00Z#e", Hash: "h", ExpiresAt: 1}}}, now.Format(time.RFC3339))
			}},
		{"roots route, first and next page", []string{"LedgerRootsFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				if _, _, err := st.Roots(ctx, "", ledger.DefaultPage); err != nil {
					return err
				}
				_, _, err := st.Roots(ctx, "2026-12-01", ledger.MaxPage)
				return err
			}},
		{"ledger verify", []string{"PrivacyLedgerVerifyPolicy"},
			func(ctx context.Context, st *dynamo.Store) error {
				if _, err := st.ScanLedger(ctx); err != nil {
					return err
				}
				if _, err := st.SealedDays(ctx); err != nil {
					return err
				}
				_, err := st.PublishedKeys(ctx)
				return err
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs := requests7(t, c.calls)
			for _, who := range c.who {
				for _, r := range decide7(t, who, reqs) {
					t.Errorf("%s: %s", who, r)
				}
			}
		})
	}
}

// Finding (b), medium: the team's audit trail can be forged by any
// function the internet reaches. Holds, lifts, lift asks and policy
// publications are recorded in the ledger's team partition "S#team"
// (privacy.TeamSubject, operator.teamEvent), which privacyctl audit and
// the console's /console/audit export read as who did what
// (dynamo.Store.LedgerBetween); the retention sweep's runs in
// "SYSTEM#retention-sweep". Only OperatorFunction and SweepFunction write
// them. Yet the ledger grant of every internet-facing function (Sid
// Ledger of FormsFunction, PreferencesFunction, FeedbackFunction,
// UnsubscribeMailFunction, RightsFunction) is dynamodb:PutItem on the whole
// LedgerTable: their code writes only a person's partition ("S#" and the
// 64-hex subject hash), but the role may append an entry to the team's
// partition ("suppression_lift_approved by arn:…:user/dpo") or the
// sweep's. The entry's hash is computed from its own content (a public
// function, shared/ledger.Hash), so the next seal signs the forgery as
// genuine and ledger verify names nothing. IAM can name the partitions: a
// Deny of PutItem with ForAnyValue:StringLike dynamodb:LeadingKeys
// ["S#team", "SYSTEM#*"] beside each LedgerIsAppendOnly would close it
// (no condition key can hold PutItem to hex subjects, hence a Deny).
func TestIAMReview7InternetFacingCannotWriteTheTeamsLedger(t *testing.T) {
	ledgerARN := table("LedgerTable")
	person := "S#" + string(review7Subject)
	entry := []string{"at", "day", "detail", "detail_sha256", "event", "expires_at", "h", "pk", "ref", "salt", "sk", "subject"}
	var asks []ask
	for _, fn := range []string{"FormsFunction", "PreferencesFunction", "FeedbackFunction", "UnsubscribeMailFunction", "RightsFunction"} {
		asks = append(asks,
			ask{fn, "dynamodb:PutItem", ledgerARN, keys([]string{person}, entry...), true},
			ask{fn, "dynamodb:PutItem", ledgerARN, keys([]string{"S#" + string(privacy.TeamSubject)}, entry...), false},
			ask{fn, "dynamodb:PutItem", ledgerARN, keys([]string{"SYSTEM#retention-sweep"}, entry...), false})
	}
	asks = append(asks,
		ask{"OperatorFunction", "dynamodb:PutItem", ledgerARN, keys([]string{"S#" + string(privacy.TeamSubject)}, entry...), true},
		ask{"SweepFunction", "dynamodb:PutItem", ledgerARN, keys([]string{"SYSTEM#retention-sweep"}, entry...), true})
	check(t, asks)
}

// UnsubscribeMailFunction is reached from the internet by email (SES
// receiving), not through a route: TestLedgerIsAppendOnlyToTheInternet,
// which asks only the functions behind an HTTP route without authorizer
// (internetFacing), does not ask it, so its LedgerIsAppendOnly Deny could
// go without a test failing. (Passed on the template under review.)
func TestIAMReview7MailtoFunctionMayOnlyAppendToTheLedger(t *testing.T) {
	ledgerARN := table("LedgerTable")
	var asks []ask
	for _, a := range []string{"dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLDelete", "dynamodb:PartiQLUpdate"} {
		asks = append(asks, ask{"UnsubscribeMailFunction", a, ledgerARN, keys([]string{"S#a"}, "pk", "sk"), false})
	}
	asks = append(asks,
		ask{"UnsubscribeMailFunction", "dynamodb:UpdateItem", ledgerARN, keys([]string{"S#a"}, redaction...), false},
		ask{"UnsubscribeMailFunction", "dynamodb:UpdateItem", ledgerARN, keys([]string{"S#a"}, "h", "pk", "sk"), false})
	check(t, asks)
}

// Finding (b), low: LedgerSignerFunction's Sid SendToFailureQueue
// (sqs:SendMessage on FailureQueue) is used by no code path: the signer
// never calls SQS; a failed asynchronous invocation is delivered by Lambda
// to the EventInvokeConfig's OnFailure destination with the function's
// role, and SAM already adds that permission to the generated role
// ("SAM will add any necessary permissions to the auto-generated IAM Role
// … to access the resource referenced in this property", AWS SAM
// developer guide, OnFailure). After the transform the role carries the
// grant twice (LedgerSignerFunctionEventInvokeConfigOnFailureSQSPolicy and
// the statement). (The schedule's dead-letter queue is the schedule's own
// role's: SAM adds LedgerSignerFunctionHourlySQSPolicy to it.)
func TestIAMReview7SignerRoleGrantsTheFailureQueueOnce(t *testing.T) {
	res := transformed(t)
	role := res["LedgerSignerFunctionRole"]
	if role == nil {
		t.Fatal("no LedgerSignerFunctionRole after the transform")
	}
	n := 0
	pols, _ := path(role, "Properties", "Policies").([]any)
	for _, p := range pols {
		for _, st := range statementsOf(path(p, "PolicyDocument")) {
			if slices.Contains(strs(st["Action"]), "sqs:SendMessage") && refTo(st["Resource"]) == "FailureQueue" {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("LedgerSignerFunctionRole grants sqs:SendMessage on FailureQueue in %d statements, want 1 (SAM's, for the OnFailure destination)", n)
	}
}
