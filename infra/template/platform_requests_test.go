package template_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/shared/deadlines"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// platformRoles are the functions that serve the Platform (OpenDSR): the
// only ones granted its requests, besides the sweep (retention) and the
// maintenance and upgrade policies (reapply-erasures, upgrade-records).
var platformRoles = []string{"OpenDSRFunction", "OpenDSRWorkerFunction", "CallbackFunction"}

// platformReaders are the site-side functions that read the Platform's
// open requests (#35): the deadline digest and the team's board
// (privacyctl list, the console), each a by-status-due Query of
// platformSummary alone.
var platformReaders = []string{"DeadlineWatchFunction", "OperatorFunction"}

// platformSummary is what dynamo.Store.DueRequests reads of a request,
// the index's keys with it: the digest's and the board's line.
var platformSummary = []string{"pk", "sk", "status", "due_at", "id", "type", "received_at", "controller_id"}

// summary is a by-status-due Query's context that asks for attrs alone.
func summary(attrs ...string) map[string]any {
	ctx := keys([]string{"pending"}, attrs...)
	ctx["dynamodb:Select"] = "SPECIFIC_ATTRIBUTES"
	return ctx
}

// requestsTableActions are every DynamoDB action a role could take on a
// requests table, with the resource it names: the table, each index and
// the stream.
func requestsTableActions(id string) []ask {
	var out []ask
	for _, action := range []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
		"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PartiQLSelect"} {
		out = append(out, ask{action: action, resource: table(id)})
	}
	for _, index := range []string{"by-status-due", "by-subject", "by-group", "by-retention"} {
		out = append(out, ask{action: "dynamodb:Query", resource: table(id) + "/index/" + index})
	}
	for _, action := range []string{"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"} {
		out = append(out, ask{action: action, resource: table(id) + "/stream/2026-12-07T00:00:00.000"})
	}
	return out
}

// #35, the open gap of the seventh IAM review closed: the Platform's
// requests live in a table of their own, so in AWS each side's roles reach
// only their own requests. No Platform role may take any action on the
// site's rights requests (RequestsTable, its indexes, its stream), and no
// site function any on the Platform's (PlatformRequestsTable); each
// Platform role still may what its code does there. Failed on the
// template before (the Platform roles were granted RequestsTable, and it
// held the Platform's requests: there was no PlatformRequestsTable).
func TestPlatformRequestsApartFromTheSite(t *testing.T) {
	var asks []ask
	for _, who := range platformRoles {
		for _, a := range requestsTableActions("RequestsTable") {
			a.who = who
			asks = append(asks, a)
		}
	}
	tpl := read(t)
	for _, who := range functions(tpl) {
		if slices.Contains(platformRoles, who) || who == "SweepFunction" {
			continue
		}
		for _, a := range requestsTableActions("PlatformRequestsTable") {
			a.who = who
			asks = append(asks, a)
		}
	}
	platform := table("PlatformRequestsTable")
	asks = append(asks,
		ask{"OpenDSRFunction", "dynamodb:PutItem", platform, nil, true},
		ask{"OpenDSRFunction", "dynamodb:GetItem", platform, nil, true},
		ask{"OpenDSRFunction", "dynamodb:UpdateItem", platform, nil, true},
		ask{"OpenDSRFunction", "dynamodb:Query", platform + "/index/by-subject", nil, true},
		ask{"OpenDSRFunction", "dynamodb:Query", platform + "/index/by-group", nil, true},
		ask{"OpenDSRWorkerFunction", "dynamodb:UpdateItem", platform, nil, true},
		ask{"OpenDSRWorkerFunction", "dynamodb:Query", platform + "/index/by-status-due", nil, true},
		ask{"CallbackFunction", "dynamodb:GetItem", platform, nil, true},
		ask{"CallbackFunction", "dynamodb:GetRecords", platform + "/stream/2026-12-07T00:00:00.000", nil, true},
		ask{"SweepFunction", "dynamodb:Query", platform + "/index/by-retention", nil, true},
		// The upgrade's move: out of the site's table, into the Platform's.
		ask{"PrivacyUpgradePolicy", "dynamodb:Scan", table("RequestsTable"), nil, true},
		ask{"PrivacyUpgradePolicy", "dynamodb:DeleteItem", table("RequestsTable"), keys([]string{"R#1"}), true},
		ask{"PrivacyUpgradePolicy", "dynamodb:PutItem", platform, keys([]string{"R#1"}), true},
		ask{"PrivacyUpgradePolicy", "dynamodb:Scan", platform, nil, true},
		// reapply-erasures finds the controllers' erasures there.
		ask{"PrivacyMaintenancePolicy", "dynamodb:Scan", platform, nil, true},
	)
	// #35: the deadline digest and the team's board list the Platform's
	// open requests (dynamo.Store.DueRequests): a Query of by-status-due
	// for what they show of each, and nothing else there (the loop above
	// asks the rest: the table, the other indexes, the stream, and an
	// unprojected Query, which reads the whole item).
	for _, who := range platformReaders {
		asks = append(asks,
			ask{who, "dynamodb:Query", platform + "/index/by-status-due", summary(platformSummary...), true},
			ask{who, "dynamodb:Query", platform + "/index/by-status-due", summary("id", "status"), true},
			ask{who, "dynamodb:Query", platform + "/index/by-subject", summary(platformSummary...), false},
			ask{who, "dynamodb:GetItem", platform, keys([]string{"R#1"}, platformSummary...), false},
			ask{who, "dynamodb:Scan", platform, map[string]any{"dynamodb:Attributes": platformSummary, "dynamodb:Select": "SPECIFIC_ATTRIBUTES"}, false},
			// A projection without Select, or the whole item asked for.
			ask{who, "dynamodb:Query", platform + "/index/by-status-due", keys([]string{"pending"}, platformSummary...), false},
			ask{who, "dynamodb:Query", platform + "/index/by-status-due",
				map[string]any{"dynamodb:LeadingKeys": []string{"pending"}, "dynamodb:Select": "ALL_ATTRIBUTES"}, false},
		)
		// What a Platform request holds of the controller's person or
		// setup, which neither shows.
		for _, more := range []string{"subject", "identity_keys", "callback_urls", "group_key", "body_digest", "results_count"} {
			asks = append(asks, ask{who, "dynamodb:Query", platform + "/index/by-status-due", summary(append(platformSummary, more)...), false})
		}
	}
	check(t, asks)
	for _, who := range platformReaders {
		vars, _ := path(tpl.Resources[who].Properties, "Environment", "Variables").(map[string]any)
		if got := refTo(vars["PLATFORM_REQUESTS_TABLE"]); got != "PlatformRequestsTable" {
			t.Errorf("%s: PLATFORM_REQUESTS_TABLE is %v, want !Ref PlatformRequestsTable", who, vars["PLATFORM_REQUESTS_TABLE"])
		}
	}

	// Each Platform function's code reaches its requests by REQUESTS_TABLE:
	// the Platform's table, never the Globals' (the site's).
	for _, id := range platformRoles {
		vars, _ := path(tpl.Resources[id].Properties, "Environment", "Variables").(map[string]any)
		if got := refTo(vars["REQUESTS_TABLE"]); got != "PlatformRequestsTable" {
			t.Errorf("%s: REQUESTS_TABLE is %v, want !Ref PlatformRequestsTable", id, vars["REQUESTS_TABLE"])
		}
	}
	if got := refTo(path(events(tpl.Resources["CallbackFunction"])["RequestsStream"], "Properties", "Stream")); got != "PlatformRequestsTable" {
		t.Errorf("the callbacks read the stream of %q, want PlatformRequestsTable's", got)
	}
}

// #35: what the deadline digest (deadlines.Watch, DeadlineWatchFunction)
// and the team's board (operator.Operator.List: privacyctl list and the
// console, OperatorFunction) send, run through real dynamo.Stores over the
// review tests' recorder, each request asked of the transformed template's
// role of its function: a call AWS would refuse fails here. Failed on the
// template before (neither role was granted PlatformRequestsTable: the
// Platform's open requests were on no board and in no digest).
func TestPlatformRequestsReadByTheDigestAndTheBoard(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	platformTables := dynamo.Tables{Requests: "PlatformRequestsTable"}
	// Every Query of the Platform's requests finds one, overdue: the
	// digest is sent, and the board's overdue filter keeps it; the site
	// has none.
	item := `{"pk":{"S":"R#p1"},"sk":{"S":"REQUEST"},"id":{"S":"p1"},"type":{"S":"erasure"},"status":{"S":"pending"},` +
		`"due_at":{"S":"2026-12-01T00:00:00Z"},"received_at":{"S":"2026-11-01T00:00:00.000000000Z"},"controller_id":{"S":"us-acme"}}`
	answer := func(op, tableName string, body []byte) (int, string) {
		if op == "Query" && tableName == "PlatformRequestsTable" {
			return 200, `{"Items":[` + item + `],"Count":1,"ScannedCount":1}`
		}
		return ok8(op, tableName, body)
	}
	tests := []struct {
		who  string
		run  func(ctx context.Context, site, platform *dynamo.Store) error
		want string // a request of the run's to PlatformRequestsTable
	}{
		{who: "DeadlineWatchFunction", run: func(ctx context.Context, site, platform *dynamo.Store) error {
			var sent []notify.Message
			w := &deadlines.Watch{Store: site, Platform: platform, Mail: senderFunc(func(m notify.Message) { sent = append(sent, m) }),
				Config: notify.Config{TeamInbox: "team@example.com"}, Now: func() time.Time { return now },
				Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			res, err := w.Run(ctx)
			if err == nil && (len(sent) != 1 || !strings.Contains(sent[0].Text, "p1  erasure  pending  was due 2026-12-01  Platform, controller us-acme")) {
				err = fmt.Errorf("digest %+v: %v", res, sent)
			}
			return err
		}},
		{who: "OperatorFunction", run: func(ctx context.Context, site, platform *dynamo.Store) error {
			o := &operator.Operator{Store: site, Platform: platform, Now: func() time.Time { return now }}
			for _, f := range []operator.Filter{{}, {Overdue: true}, {Status: []privacy.Status{privacy.RequestPending, privacy.RequestCompleted}}} {
				rows, err := o.List(ctx, operator.Caller{By: "arn:aws:iam::000000000000:user/dpo"}, f)
				if err != nil {
					return err
				}
				var platformRows int
				for _, r := range rows {
					if r.Platform && r.Controller == "us-acme" && r.Overdue {
						platformRows++
					}
				}
				if platformRows == 0 {
					return fmt.Errorf("%+v: no Platform request listed: %+v", f, rows)
				}
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.who, func(t *testing.T) {
			reqs, ops := recordDB8(t, answer, func(ctx context.Context, db *dynamodb.Client) error {
				return tc.run(ctx, dynamo.New(db, siteTables7), dynamo.New(db, platformTables))
			})
			if !slices.Contains(ops, "Query PlatformRequestsTable") {
				t.Fatalf("%s read nothing of the Platform's requests: %v", tc.who, ops)
			}
			for _, r := range decide7(t, tc.who, reqs) {
				t.Errorf("%s: %s", tc.who, r)
			}
		})
	}
}

// senderFunc is a deadlines.Sender that hands each message to f.
type senderFunc func(notify.Message)

func (f senderFunc) Send(_ context.Context, m notify.Message) (string, error) {
	f(m)
	return "m1", nil
}
