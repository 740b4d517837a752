package mailer_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/ses"
)

// processorRecord is an ops stream record of processor id's registry
// item: contact before (none: an INSERT) and after (none: a REMOVE).
func processorRecord(seq, id, before, after string) events.DynamoDBEventRecord {
	s := events.NewStringAttribute
	img := func(contact string) map[string]events.DynamoDBAttributeValue {
		if contact == "" {
			return nil
		}
		return map[string]events.DynamoDBAttributeValue{"pk": s("PROC#"), "sk": s(id), "processor_id": s(id), "name": s("Drift " + id),
			"contact_email": s(contact), "identity_format": s("raw"), "types": events.NewStringSetAttribute([]string{"erasure"})}
	}
	rec := events.DynamoDBEventRecord{EventName: "MODIFY", EventSourceArn: "arn:aws:dynamodb:us-east-1:0:table/ops/stream/x",
		Change: events.DynamoDBStreamRecord{SequenceNumber: seq, OldImage: img(before), NewImage: img(after),
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)},
			Keys:                        map[string]events.DynamoDBAttributeValue{"pk": s("PROC#"), "sk": s(id)}}}
	switch {
	case before == "":
		rec.EventName = "INSERT"
	case after == "":
		rec.EventName = "REMOVE"
	}
	return rec
}

// Every change of the processors' registry on the ops table's stream is
// told, whatever wrote it: a delete-then-put of one processor with
// another contact (the removal and the registration told to the team,
// the contact it had when removed told of the change), an update of
// another's contact (the team, the former contact). A send that fails
// stops the batch at that record (the stream retries from it; what
// follows is not handled ahead of it), and the stream's redelivery of the
// whole batch sends nothing twice and writes each ledger entry once. No
// log line holds an address.
func TestWatchTellsEveryRegistryChangeOnce(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	u := localtest.Unique()
	a, b := "a-"+u+"@old.example", "b-"+u+"@new.example"
	c, d := "c-"+u+"@old.example", "d-"+u+"@attacker.example"
	team := "team-" + u + "@example.com"
	p1, p2, p3 := "p1-"+u, "p2-"+u, "p3-"+u
	inj := &failFor{next: &ses.Sender{Client: localtest.SES(svc), From: "privacy@example.com"}, addr: c}
	inj.on.Store(true)
	var logs bytes.Buffer
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Ops: tables["OpsTable"], Ledger: tables["LedgerTable"]})
	m := &mailer.Mailer{Markers: store, Sender: inj, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Now: time.Now, Lease: time.Minute,
		Config: notify.Config{Company: "Example", TeamInbox: team, PolicyURL: "https://example.com/p"}}
	handle := batch.Stream(dynamo.DecodeChange, (&mailer.Watch{Mailer: m, Registry: store}).Handle)
	ctx := context.Background()
	recs := []events.DynamoDBEventRecord{
		processorRecord("100", p1, a, ""), processorRecord("200", p1, "", b),
		processorRecord("300", p2, c, d),
		processorRecord("400", p3, "", b),
	}
	resp, err := handle(ctx, events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 2 || resp.BatchItemFailures[0].ItemIdentifier != "300" || resp.BatchItemFailures[1].ItemIdentifier != "400" {
		t.Fatalf("failures %+v, want 300 and what follows it", resp.BatchItemFailures)
	}
	inj.on.Store(false)
	for _, redelivery := range [][]events.DynamoDBEventRecord{recs[2:], recs} {
		if resp, err := handle(ctx, events.DynamoDBEvent{Records: redelivery}); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: %+v, %v", resp, err)
		}
	}
	subjects := func(addr string) []string {
		var out []string
		for _, e := range localtest.Emails(t, svc, func(e localtest.Email) bool { return e.To(addr) }) {
			out = append(out, e.Subject)
		}
		return out
	}
	want := map[string]bool{"Processor " + p1 + ": removed": true, "Processor " + p1 + ": registered again after its removal": true,
		"Processor " + p2 + ": privacy contact address changed": true, "Processor " + p3 + ": registered": true}
	got := subjects(team)
	for _, s := range got {
		if !want[s] {
			t.Errorf("to the team: %q", s)
		}
		delete(want, s)
	}
	if len(want) > 0 || len(got) != 4 {
		t.Errorf("to the team: %q; not told: %v", got, want)
	}
	for _, former := range []string{a, c} {
		if got := subjects(former); len(got) != 1 || !strings.Contains(got[0], "was changed") {
			t.Errorf("to the former contact %s: %q, want one notice of the change", former, got)
		}
	}
	if got := subjects(b); len(got) != 0 {
		t.Errorf("to the new contact: %q", got)
	}
	out, err := localtest.DynamoDB(svc).Query(ctx, &dynamodb.QueryInput{TableName: aws.String(tables["LedgerTable"]),
		KeyConditionExpression: aws.String("pk = :pk"), ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: dynamo.LedgerProcessorsPK}}})
	if err != nil || out.Count != 4 {
		t.Errorf("%d entries in %s, want 4 (%v)", out.Count, dynamo.LedgerProcessorsPK, err)
	}
	for _, addr := range []string{a, b, c, d} {
		if strings.Contains(logs.String(), addr) {
			t.Errorf("a log line holds %s", addr)
		}
	}
}
