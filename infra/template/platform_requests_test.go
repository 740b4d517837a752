package template_test

import (
	"slices"
	"testing"
)

// platformRoles are the functions that serve the Platform (OpenDSR): the
// only ones granted its requests, besides the sweep (retention) and the
// maintenance and upgrade policies (reapply-erasures, upgrade-records).
var platformRoles = []string{"OpenDSRFunction", "OpenDSRWorkerFunction", "CallbackFunction"}

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
	check(t, asks)

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
