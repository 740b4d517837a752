package template_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// The seventh role-versus-code review: the Platform's changes of issue
// #35 items 1, 2 and 5 (2ea1028..29c9a07: identities as keyed lookup
// items, sensitive data refused, DSR API v3 with groups). Every DynamoDB
// request each changed code path sends, the rare branches included (a
// record rewritten without one of its identities, a delete, the results,
// the sensitive key names, a grouped request, the duplicate check, the
// cancel, the group listing, the worker's erasure, the re-applied
// erasure, the sweep's expiry of records and their lookups), recorded as
// the SDK sends it against a DynamoDB that answers with a record and its
// lookups, translated as the local stack translates it (infra/awsreq),
// and asked of the transformed template's role of each function that
// runs it.

// platformAnswer answers as a records table holding one record of
// controller "acme" ("C#acme#rec1", keys k1 and k2, lookups "K#acme#k1"
// and "K#acme#k2"), so that the code goes on to its writes and deletes;
// every other read finds nothing.
func platformAnswer(op, tableName string, body []byte) string {
	var in struct {
		IndexName                 string
		Key                       map[string]map[string]string
		ExpressionAttributeValues map[string]map[string]string
	}
	_ = json.Unmarshal(body, &in)
	switch {
	case op == "GetItem" && tableName == "RecordsTable" && in.Key["pk"]["S"] == "C#acme#rec1":
		return `{"Item":` + platformRecord + `}`
	case op == "Query" && tableName == "RecordsTable" && in.IndexName == "":
		return `{"Items":[{"pk":{"S":"` + in.ExpressionAttributeValues[":k"]["S"] + `"},"sk":{"S":"C#acme#rec1"}}],"Count":1,"ScannedCount":1}`
	case op == "Query" && tableName == "RecordsTable" && in.IndexName == "by-controller":
		return `{"Items":[` +
			`{"pk":{"S":"C#acme#rec1"},"sk":{"S":"RECORD"},"controller_id":{"S":"acme"},"updated_at":{"S":"2026-01-01T00:00:00Z"}},` +
			`{"pk":{"S":"K#acme#k1"},"sk":{"S":"C#acme#rec1"},"controller_id":{"S":"acme"},"updated_at":{"S":"2026-01-01T00:00:00Z"}}` +
			`],"Count":2,"ScannedCount":2}`
	case op == "Query" && tableName == "OpsTable":
		// The controllers' list (dynamo.Store.Controllers): acme keeps
		// records 30 days.
		return `{"Items":[{"pk":{"S":"CTRL#"},"sk":{"S":"acme"},"controller_id":{"S":"acme"},"retention_days":{"N":"30"}}],"Count":1,"ScannedCount":1}`
	case op == "BatchGetItem":
		return `{"Responses":{"RecordsTable":[` + platformRecord + `]},"UnprocessedKeys":{}}`
	case op == "TransactWriteItems", op == "UpdateItem", op == "DeleteItem":
		return `{}`
	}
	return `{"Items":[],"Count":0,"ScannedCount":0}`
}

const platformRecord = `{"pk":{"S":"C#acme#rec1"},"sk":{"S":"RECORD"},"kind":{"S":"controller_record"},` +
	`"controller_id":{"S":"acme"},"record_id":{"S":"rec1"},"identities":{"S":"[]"},"attributes":{"S":"{}"},` +
	`"keys":{"SS":["k1","k2"]},"created_at":{"S":"2026-01-01T00:00:00Z"},"updated_at":{"S":"2026-01-01T00:00:00Z"}}`

// platformRequestsOf runs calls against a store over a recorder
// answering with platformAnswer, its requests table the Platform's as
// the Platform's functions are configured, and returns each request it
// sent as IAM evaluates it.
func platformRequestsOf(t *testing.T, calls func(ctx context.Context, st *dynamo.Store) error) []iamsim.Request {
	t.Helper()
	out, ops := record7In(t, platformTables7, platformAnswer, calls)
	if len(ops) == 0 {
		t.Fatal("the calls sent no request")
	}
	return out
}

// Every request of the changed paths, against the role of each function
// (or managed policy) that runs it. A refusal here is a call that fails in
// AWS. (All pass on the template under review: the review found no
// refused DynamoDB call in scope. They hold the grants to the code:
// narrowing one below what its code sends fails here, and each row lists
// which actions it needs.)
func TestIAMReview7PlatformPathsAsAWSSeesThem(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	grouped := privacy.RightsRequest{ID: "0b1f8c4e-3a52-4d8e-9b0f-1c2d3e4f5a6b", Subject: privacy.SubjectID(strings.Repeat("cd", 32)),
		Type: privacy.RightErasure, Regulation: privacy.RegulationGDPR, Status: privacy.RequestPending, ReceivedAt: now,
		DueAt: now.AddDate(0, 1, 0), Source: privacy.SourceOpenDSR, Controller: "acme", OpenDSRVersion: 3,
		FulfilAfter: now.Add(7 * 24 * time.Hour), BodyDigest: "d", IdentityKeys: []string{"k1", "k3"}, GroupID: "batch-1",
		CallbackURLs: []string{"https://acme.example/cb"}}
	for _, c := range []struct {
		name  string
		who   []string
		calls func(ctx context.Context, st *dynamo.Store) error
	}{
		// PUT /platform/v1/records/{id} of an existing record without one
		// of its keys: GetItem, then one transaction of a Put (record), a
		// Put per key (lookups), a Delete per dropped key.
		{"a record rewritten without one identity", []string{"OpenDSRFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			_, _, err := st.PutRecord(ctx, privacy.Record{Controller: "acme", ID: "rec1", Keys: []string{"k1", "k3"},
				Attributes: json.RawMessage(`{}`), UpdatedAt: now})
			return err
		}},
		{"a new record", []string{"OpenDSRFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			_, _, err := st.PutRecord(ctx, privacy.Record{Controller: "acme", ID: "rec2", Keys: []string{"k4"},
				Attributes: json.RawMessage(`{}`), UpdatedAt: now})
			return err
		}},
		{"GET and DELETE a record", []string{"OpenDSRFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			if _, err := st.GetRecord(ctx, "acme", "rec1"); err != nil {
				return err
			}
			return st.DeleteRecord(ctx, "acme", "rec1")
		}},
		// The results route and the worker's access: a Query per key,
		// one BatchGetItem.
		{"the records of a request's identities", []string{"OpenDSRFunction", "OpenDSRWorkerFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.KeyedRecords(ctx, "acme", []string{"k1", "k2"})
				return err
			}},
		// The worker's erasure and reapply-erasures: those reads, then a
		// transaction of Deletes (record, lookups).
		{"an erasure of a request's identities", []string{"OpenDSRWorkerFunction", "PrivacyMaintenancePolicy"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, err := st.EraseKeyedRecords(ctx, "acme", []string{"k1"})
				return err
			}},
		{"reapply-erasures finds the controllers' erasures", []string{"PrivacyMaintenancePolicy"},
			func(ctx context.Context, st *dynamo.Store) error {
				_, err := rights.ReapplyErasures(ctx, st, now.AddDate(0, 0, -7), now, "v1")
				return err
			}},
		{"the sensitive key names", []string{"OpenDSRFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			if _, err := st.SensitiveKeys(ctx, "acme"); err != nil {
				return err
			}
			return st.SetSensitiveKeys(ctx, "acme", []string{"mother_maiden_name"}, time.Now())
		}},
		// POST /opendsr/v3/requests with a group: the duplicate check
		// (by-subject), the create (a Put carrying group_key), the retry's
		// read; GET ?group_id= (by-group); DELETE (the cancel).
		{"a grouped v3 request, its duplicate check, listing and cancel", []string{"OpenDSRFunction"},
			func(ctx context.Context, st *dynamo.Store) error {
				if _, err := st.SubjectRequests(ctx, grouped.Subject, time.Time{}); err != nil {
					return err
				}
				if err := st.CreateRequest(ctx, grouped, privacy.Event{At: now}); err != nil {
					return err
				}
				if _, err := st.Request(ctx, grouped.ID); err != nil && !errors.Is(err, privacy.ErrNotFound) {
					return err
				}
				if _, err := st.GroupRequests(ctx, "acme", "batch-1", 150); err != nil {
					return err
				}
				return st.Transition(ctx, grouped.ID, privacy.Transition{Step: privacy.StepCancel,
					Status: privacy.RequestCancelled, By: "controller:acme"}, privacy.Event{At: now})
			}},
		{"the worker claims and completes", []string{"OpenDSRWorkerFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			if _, err := st.RequestsByStatus(ctx, privacy.RequestPending, time.Time{}); err != nil {
				return err
			}
			if err := st.ClaimFulfilment(ctx, grouped.ID, now, now.Add(-10*time.Minute)); err != nil {
				return err
			}
			n := 1
			return st.SetOutcome(ctx, grouped.ID, privacy.Outcome{Status: privacy.RequestCompleted, Results: &n}, privacy.Event{At: now})
		}},
		{"a callback reads its request", []string{"CallbackFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			if _, err := st.Request(ctx, grouped.ID); !errors.Is(err, privacy.ErrNotFound) {
				return err
			}
			return nil
		}},
		// The sweep's controller retention: the controllers, the
		// by-controller index (records and their lookups), a conditional
		// DeleteItem of each.
		{"the sweep expires a record and its lookups", []string{"SweepFunction"}, func(ctx context.Context, st *dynamo.Store) error {
			n, err := st.ExpireControllerRecords(ctx, now, false)
			if err == nil && n != 1 {
				return fmt.Errorf("expired %d records, want 1 (the fake holds one past acme's 30 days)", n)
			}
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reqs := platformRequestsOf(t, c.calls)
			sets := policies(t)
			eval := iamsim.Shared(filepath.Join(localtest.Root(), ".tools", "node", "node_modules"))
			for _, who := range c.who {
				var actions []string
				for _, r := range reqs {
					actions = append(actions, r.Action+" "+strings.TrimPrefix(r.Resource, "arn:aws:dynamodb:"+region+":"+account+":"))
					d, err := eval.Decide(context.Background(), sets[who], "arn:aws:sts::"+account+":assumed-role/x/"+who, r)
					if err != nil {
						t.Fatal(err)
					}
					if !d.Allowed() {
						t.Errorf("%s %s on %s %v: %s (%s)", who, r.Action, r.Resource, r.Context, d.Result,
							strings.Join(d.Explanation, "; "))
					}
				}
				t.Logf("%s: %s", who, strings.Join(actions, ", "))
			}
		})
	}
}

// Findings (b): grants no code path of the Platform uses. Each "false"
// row is a request the role allows on the template under review and no
// code of its holder makes (these rows fail today); each "true" row is a
// request the code does make (recorded in
// TestIAMReview7PlatformPathsAsAWSSeesThem), so that narrowing the grant
// keeps it. The old email-only indexes of the records table are granted
// to no one any more (those rows pass).
func TestIAMReview7GrantsNoPlatformCodePathUses(t *testing.T) {
	check(t, []ask{
		// OpenDSRFunction, Sid ControllerRecords: UpdateItem on every item
		// of RecordsTable. The code updates one item, the controller's
		// sensitive key names ("S#<controller>", SENSITIVE_KEYS: SET
		// key_names; dynamo.Store.SetSensitiveKeys); records and lookups
		// are written by the transaction's Put and Delete only. The grant
		// lets the internet-facing function rewrite a record's keys,
		// controller_id or attributes outside the transaction (a record
		// no lookup finds, or that another controller's lookup reaches),
		// and past CheckSensitive. A statement of UpdateItem with
		// ForAllValues:StringLike dynamodb:LeadingKeys ["S#*"] and
		// ForAllValues:StringEquals dynamodb:Attributes [pk, sk, key_names]
		// holds it to the code.
		{"OpenDSRFunction", "dynamodb:UpdateItem", table("RecordsTable"), keys([]string{"S#acme"}, "key_names", "pk", "sk"), true},
		{"OpenDSRFunction", "dynamodb:UpdateItem", table("RecordsTable"),
			keys([]string{"C#acme#rec1"}, "attributes", "controller_id", "keys", "pk", "sk"), false},
		{"OpenDSRFunction", "dynamodb:UpdateItem", table("RecordsTable"), keys([]string{"K#acme#k1"}, "pk", "sk"), false},
		// OpenDSRWorkerFunction, Sid TheControllersRecords, and
		// PrivacyMaintenancePolicy, Sid ReapplyErasuresOfControllersRecords:
		// DeleteItem on every item of RecordsTable. Their code deletes
		// records ("C#") and lookups ("K#") only (deleteRecord's
		// transaction); neither deletes a controller's sensitive key names
		// ("S#<controller>"), which would let the prohibited data that
		// controller named in. ForAllValues:StringLike
		// dynamodb:LeadingKeys ["C#*", "K#*"] on the DeleteItem holds it.
		{"OpenDSRWorkerFunction", "dynamodb:DeleteItem", table("RecordsTable"), keys([]string{"C#acme#rec1"}), true},
		{"OpenDSRWorkerFunction", "dynamodb:DeleteItem", table("RecordsTable"), keys([]string{"K#acme#k1"}), true},
		{"OpenDSRWorkerFunction", "dynamodb:DeleteItem", table("RecordsTable"), keys([]string{"S#acme"}), false},
		{"PrivacyMaintenancePolicy", "dynamodb:DeleteItem", table("RecordsTable"), keys([]string{"K#acme#k1"}), true},
		{"PrivacyMaintenancePolicy", "dynamodb:DeleteItem", table("RecordsTable"), keys([]string{"S#acme"}), false},
		// Their Query (and the OpenDSR function's) reads lookup partitions
		// ("K#") only (KeyedRecords).
		{"OpenDSRWorkerFunction", "dynamodb:Query", table("RecordsTable"), keys([]string{"K#acme#k1"}), true},
		{"OpenDSRWorkerFunction", "dynamodb:Query", table("RecordsTable"), keys([]string{"S#acme"}), false},
		// The email-only indexes (before #35) are read by no code and
		// granted to no one.
		{"OpenDSRFunction", "dynamodb:Query", table("RecordsTable") + "/index/by-subject", keys([]string{"acme#k"}), false},
		{"OpenDSRFunction", "dynamodb:Query", table("RecordsTable") + "/index/by-md5", keys([]string{"k"}), false},
		{"OpenDSRWorkerFunction", "dynamodb:Query", table("RecordsTable") + "/index/by-subject", keys([]string{"acme#k"}), false},
		{"OpenDSRWorkerFunction", "dynamodb:Query", table("RecordsTable") + "/index/by-sha1", keys([]string{"k"}), false},
		{"PrivacyMaintenancePolicy", "dynamodb:Query", table("RecordsTable") + "/index/by-subject", keys([]string{"acme#k"}), false},
		{"SweepFunction", "dynamodb:Query", table("RecordsTable") + "/index/by-md5", keys([]string{"k"}), false},
	})
}
