package dynamo_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// DeleteItems deletes a page of many people's items in transactions (more
// than one transaction's worth here, one person's items more than one
// group), and keeps exactly the items of those under a legal hold in force
// or a restriction; an ended legal hold protects nothing.
func TestDeleteItemsSparesHeldSubjects(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	db := localtest.DynamoDB(svc)
	tables := map[privacy.Table]string{privacy.TableSubjects: n["SubjectsTable"], privacy.TableLedger: n["LedgerTable"]}
	store := dynamo.New(db, dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"]})
	ctx := context.Background()
	now := time.Now().UTC()
	old := now.AddDate(-3, 0, 0).Format(time.RFC3339Nano)
	subject := func(i int) privacy.SubjectID { return privacy.SubjectID(fmt.Sprintf("person-%02d", i)) }
	count := map[privacy.SubjectID]int{}
	for i := range 40 {
		items := 3
		if i == 7 {
			items = 70 // more than one transaction's group
		}
		for j := range items {
			if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(n["SubjectsTable"]), Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "S#" + string(subject(i))}, "sk": &types.AttributeValueMemberS{Value: fmt.Sprintf("INQ#%03d", j)},
				"kind": &types.AttributeValueMemberS{Value: "inquiry"}, "last_activity_at": &types.AttributeValueMemberS{Value: old}}}); err != nil {
				t.Fatal(err)
			}
			count[subject(i)]++
		}
	}
	if _, err := dynamo.BackfillRetention(ctx, db, tables); err != nil {
		t.Fatal(err)
	}
	ev := func(s privacy.SubjectID) privacy.Event {
		return privacy.Event{Subject: s, Name: "held", At: now, Ref: "x"}
	}
	if err := store.PlaceHold(ctx, privacy.Hold{Subject: subject(3), Reason: "r", PlacedAt: now}, ev(subject(3))); err != nil {
		t.Fatal(err)
	}
	if err := store.Restrict(ctx, subject(7), "r-7", ev(subject(7))); err != nil {
		t.Fatal(err)
	}
	if err := store.PlaceHold(ctx, privacy.Hold{Subject: subject(25), Reason: "ended", PlacedAt: now.Add(-48 * time.Hour), Until: now.Add(-time.Hour)}, ev(subject(25))); err != nil {
		t.Fatal(err)
	}

	sw := &dynamo.Sweep{DB: db, Tables: tables}
	var items []privacy.Item
	for shard := range privacy.RetentionShards {
		var from map[string]string
		for {
			page, _, next, err := sw.DuePage(ctx, privacy.TableSubjects, shard, now, 1000, from)
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, page...)
			if from = next; next == nil {
				break
			}
		}
	}
	if len(items) != 40*3+67 {
		t.Fatalf("%d items due, want %d", len(items), 40*3+67)
	}
	held, _, err := sw.DeleteItems(ctx, privacy.TableSubjects, items, now)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[privacy.SubjectID]int{}
	for _, i := range held {
		s, _ := items[i].Subject()
		kept[s]++
	}
	if want := map[privacy.SubjectID]int{subject(3): 3, subject(7): 70}; !maps.Equal(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
	for s, n := range count {
		got, err := store.SubjectItems(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		left := slices.DeleteFunc(got, func(it map[string]types.AttributeValue) bool {
			k, _ := it["kind"].(*types.AttributeValueMemberS)
			return k == nil || k.Value != "inquiry"
		})
		if want := map[bool]int{true: n, false: 0}[s == subject(3) || s == subject(7)]; len(left) != want {
			t.Errorf("%s: %d inquiries left, want %d", s, len(left), want)
		}
	}
}
