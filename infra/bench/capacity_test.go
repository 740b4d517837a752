package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
)

// The public writes cost what the data model needs and no more (#18,
// #36): ReturnConsumedCapacity against DynamoDB Local, billed as AWS bills
// it (meter.billed), and the DynamoDB calls made one after another, per
// submission.
func TestCapacityPerOperation(t *testing.T) {
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	caps, err := benchCapacity(context.Background(), svc.DynamoDB, dynamo.Tables{Subjects: n["SubjectsTable"],
		Ledger: n["LedgerTable"], Suppression: n["SuppressionTable"], Requests: n["RequestsTable"], Ops: n["OpsTable"]})
	if err != nil {
		t.Fatal(err)
	}
	// The round trips of the contact form, the signup and a rights
	// request begin with the source's limit alone: a call refused there
	// spends nobody's per-address budget (the second abuse review), one
	// call after another instead of at once. A rights request reads the
	// person's recent requests meanwhile.
	//
	// WCU as AWS bills them (meter.billed): 1 per item written alone, 2
	// per item in a transaction, 1 per index entry put or removed, 2 per
	// index entry moved, whether the write is transactional or not.
	targets := map[string]struct {
		wcu   float64
		trips int
	}{
		// The source's and the address's limit counters (1 each, alone:
		// a refused call spends nothing), then one transaction: the
		// inquiry (2) and its retention entry (1: its metadata goes at
		// 90 days), the ledger entry (2) and its by-day entry (1: the seal
		// reads a day from it, docs/ledger.md).
		"contact submission": {8, 3},
		// The counters (2); the pending subscription (2) and its
		// retention entry (1: deleted at 30 days unless confirmed); the
		// ledger entry (2), its by-day entry (1) and its retention entry
		// (1: it carries the IP and user agent until they are stripped at
		// 90 days).
		"newsletter signup": {9, 3},
		// One transaction: the subscription (2) into by-list (1), the
		// proof of consent (2), the deletion of the suppression a
		// confirmation ends (1 as DynamoDB Local reports a delete of an
		// item that is not there; AWS may bill it 2 as any item of a
		// transaction), the ledger entry (2) and its by-day and retention
		// entries (2). The subscription's retention entry (its 30 days
		// pending) stays: the sweep reads it once then and drops it.
		"confirmation": {10, 3},
		// The suppression and ledger entry in one transaction (4, and the
		// entry's by-day and retention entries, 2); the consent's proof,
		// read (which signup it is) and stamped withdrawn (1) into the
		// retention index (1) before the subscription ends, so a failure
		// leaves the whole withdrawal to be retried (two more round trips);
		// the subscription (1) leaves by-list (1) and its retention entry
		// moves to the 30-day deletion (2).
		"unsubscribe": {12, 5},
		// The counters (2); the request (2) with its three index entries
		// (the queue's status/due, the subject's, the retention index's:
		// 3); the ledger entry (2) and its by-day and retention entries (2).
		"rights request": {11, 3},
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

// The meter bills what AWS bills (see billed): an item with one index
// entry costs 1 WCU for the item and 1 for the entry alone, 2 and 1 in a
// transaction (DynamoDB Local reports 2 and 2 there), and moving the
// entry's key costs the index 2.
func TestMeterBillsAsAWS(t *testing.T) {
	svc := localtest.Need(t)
	ctx := context.Background()
	table := localtest.Tables(t, svc)["SubjectsTable"]
	m := &meter{}
	db := ddbClient(svc.DynamoDB, m.option)
	item := func(sk string, due int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "S#meter"}, "sk": &types.AttributeValueMemberS{Value: sk},
			"retention_pk": &types.AttributeValueMemberS{Value: "due#00"}, "retention_at": &types.AttributeValueMemberN{Value: fmt.Sprint(due)}}
	}
	for _, c := range []struct {
		name string
		call func() error
		want float64
	}{
		{"a put with an index entry", func() error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("a", 1)})
			return err
		}, 2},
		{"the same put in a transaction", func() error {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: &table, Item: item("b", 1)}}}})
			return err
		}, 3},
		{"a put that moves the index key", func() error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("a", 2)})
			return err
		}, 3},
		{"a transaction that moves the index key", func() error {
			_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Put: &types.Put{TableName: &table, Item: item("b", 2)}}}})
			return err
		}, 4},
	} {
		m.take()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, w := m.take(); w != c.want {
			t.Errorf("%s: billed %.1f WCU, want %.1f", c.name, w, c.want)
		}
	}
}
