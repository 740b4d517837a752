package main

import (
	"context"
	"testing"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
)

// The public writes cost what the data model needs and no more (#18):
// ReturnConsumedCapacity against DynamoDB Local, and the DynamoDB calls
// made one after another, per submission.
func TestCapacityPerOperation(t *testing.T) {
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	caps, err := benchCapacity(context.Background(), svc.DynamoDB, dynamo.Tables{Subjects: n["SubjectsTable"],
		Ledger: n["LedgerTable"], Suppression: n["SuppressionTable"], Requests: n["RequestsTable"], Ops: n["OpsTable"]})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]struct {
		wcu   float64
		trips int
	}{
		"contact submission": {6, 2},
		"newsletter signup":  {6, 2},
		"unsubscribe":        {6, 3},
		// Two more index entries (the queue's status/due, the subject's).
		"rights request": {10, 3},
	}
	for _, c := range caps {
		t.Logf("%s: %.1f RCU, %.1f WCU (minimum %.0f), %d round trips", c.Operation, c.RCU, c.WCU, c.MinWCU, c.RoundTrips)
		want, ok := targets[c.Operation]
		if !ok {
			continue
		}
		if c.WCU > want.wcu || c.RoundTrips > want.trips {
			t.Errorf("%s: %.1f WCU in %d round trips, want at most %.0f in %d", c.Operation, c.WCU, c.RoundTrips, want.wcu, want.trips)
		}
	}
	if len(caps) < len(targets) {
		t.Fatalf("%d operations measured", len(caps))
	}
}
