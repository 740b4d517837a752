package template_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/privacykeeper/privacykeeper/infra/iamsim"
	"github.com/privacykeeper/privacykeeper/infra/replay"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Review 12 (role against code): b5653ed..375a984 (the mailer's
// request_received, the ops table's stream and mailer.Watch, the bounded
// ledger puts, the erasure's and the move's missing entries).

// ---- Held: the erasure's and the move's missing entries under each role.

// review12Inquiry and review12Request are an inquiry and a site rights
// request of review7Subject whose entries the mailer has not written yet
// (their stream records still on their way).
func review12Inquiry() string {
	s := string(review7Subject)
	return `{"pk":{"S":"S#` + s + `"},"sk":{"S":"INQ#2026-12-07T09:00:00.000000000Z#inq-1"},"kind":{"S":"inquiry"},` +
		`"id":{"S":"inq-1"},"subject":{"S":"` + s + `"},"email":{"S":"ann@example.org"},"message":{"S":"hi"},` +
		`"purpose":{"S":"contact"},"legal_basis":{"S":"legitimate_interest"},"policy_version":{"S":"v2"},` +
		`"created_at":{"S":"2026-12-07T09:00:00.000000000Z"},"last_activity_at":{"S":"2026-12-07T09:00:00.000000000Z"},` +
		`"expires_at":{"N":"1900000000"}}`
}

func review12Request() string {
	s := string(review7Subject)
	return `{"pk":{"S":"R#req-1"},"sk":{"S":"REQUEST"},"kind":{"S":"rights_request"},"id":{"S":"req-1"},"subject":{"S":"` + s + `"},` +
		`"email":{"S":"ann@example.org"},"type":{"S":"access"},"regulation":{"S":"gdpr"},"status":{"S":"identity_unverified"},` +
		`"recipient_email":{"S":"friend@example.org"},"received_at":{"S":"2026-12-07T09:30:00.000000000Z"},` +
		`"received_policy_version":{"S":"v2"}}`
}

// review12Missing answers as a person's partition with an inquiry and a
// site request and no ledger entry for either.
func review12Missing(op, tn string, body []byte) (int, string) {
	if op == "Query" {
		switch {
		case tn == "SubjectsTable":
			return 200, `{"Items":[` + review12Inquiry() + `],"Count":1,"ScannedCount":1}`
		case tn == "RequestsTable" && strings.Contains(string(body), `"by-subject"`):
			return 200, `{"Items":[` + review12Request() + `],"Count":1,"ScannedCount":1}`
		}
	}
	return ok8(op, tn, body)
}

// An erasure (RightsFunction by the link, OperatorFunction by the desk,
// privacyctl reapply-erasures under PrivacyMaintenancePolicy) and a
// move (OperatorFunction) first put the missing inquiry_received and
// request_received (dynamo.Store.recordMissingEntries): each put is
// allowed under each role that runs it. (Held: passes on 375a984.)
func TestReview12MissingEntriesUnderEachRole(t *testing.T) {
	at := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	erase := func(ctx context.Context, st *dynamo.Store) error {
		_, _, err := st.EraseBefore(ctx, review7Subject, time.Time{}, "erase-1",
			privacy.Event{Subject: review7Subject, Name: "erasure_completed", At: at, Ref: "erase-1", LegalBasis: privacy.BasisLegalObligation})
		return err
	}
	move := func(ctx context.Context, st *dynamo.Store) error {
		_, err := st.MoveSubject(ctx, review7Subject, "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", "new@example.org", "fix-1", at)
		return err
	}
	for _, c := range []struct {
		name  string
		who   []string
		calls func(ctx context.Context, st *dynamo.Store) error
	}{
		{"an erasure", []string{"RightsFunction", "OperatorFunction", "PrivacyMaintenancePolicy"}, erase},
		{"a move", []string{"OperatorFunction"}, move},
	} {
		reqs, _ := record8(t, siteTables7, review12Missing, c.calls)
		var puts []iamsim.Request
		events := map[string]bool{}
		for _, r := range reqs {
			if r.Action == "dynamodb:PutItem" && r.Resource == table("LedgerTable") {
				puts = append(puts, r)
			}
		}
		for _, r := range puts {
			events[strings.Join(r.Context["dynamodb:Attributes"].([]string), ",")] = true
		}
		if len(puts) < 2 {
			t.Fatalf("%s: %d ledger puts, want the two missing entries at least", c.name, len(puts))
		}
		for _, who := range c.who {
			for _, r := range decide7(t, who, puts) {
				t.Errorf("%s: %s: %s", c.name, who, r)
			}
		}
		t.Logf("%s: %d ledger puts, attribute sets %v", c.name, len(puts), events)
	}
}

// ---- Findings.

// MailerFunction's ProcessorChangeLedgerEntry (SYSTEM#processors) bounds
// the attribute names of its PutItem but not dynamodb:ReturnValues, as
// ReceivedLedgerEntries now does (review 11): a put with ReturnValues
// ALL_OLD is allowed and returns the entry it replaces. The code
// (dynamo.Store.RecordProcessorChange) sends none (NONE). Least
// privilege; fails on 375a984.
func TestReview12ProcessorChangeLedgerPutReturnsNothing(t *testing.T) {
	ledger := table("LedgerTable")
	entry := []string{"at", "day", "detail", "detail_sha256", "event", "expires_at", "h", "legal_basis", "pk", "ref", "salt", "sk"}
	put := func(returnValues string) map[string]any {
		ctx := keys([]string{dynamo.LedgerProcessorsPK}, entry...)
		if returnValues != "" {
			ctx["dynamodb:ReturnValues"] = returnValues
		}
		return ctx
	}
	check(t, []ask{
		{"MailerFunction", "dynamodb:PutItem", ledger, put(""), true},
		{"MailerFunction", "dynamodb:PutItem", ledger, put("NONE"), true},
		{"MailerFunction", "dynamodb:PutItem", ledger, put("ALL_OLD"), false},
	})
}

// fakeQueue holds one failure record.
type fakeQueue struct{ body string }

func (q *fakeQueue) ReceiveMessage(_ context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	if q.body == "" {
		return &sqs.ReceiveMessageOutput{}, nil
	}
	return &sqs.ReceiveMessageOutput{Messages: []sqstypes.Message{{MessageId: aws.String("m1"), ReceiptHandle: aws.String("h1"),
		Body: aws.String(q.body)}}}, nil
}

func (q *fakeQueue) DeleteMessage(_ context.Context, _ *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.body = ""
	return &sqs.DeleteMessageOutput{}, nil
}

// fakeShard is one shard's records.
type fakeShard struct{ recs []streamtypes.Record }

func (s *fakeShard) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String("at:" + aws.ToString(in.SequenceNumber))}, nil
}

func (s *fakeShard) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	if aws.ToString(in.ShardIterator) == "end" {
		return &dynamodbstreams.GetRecordsOutput{}, nil
	}
	start := strings.TrimPrefix(aws.ToString(in.ShardIterator), "at:")
	var out []streamtypes.Record
	for _, r := range s.recs {
		if aws.ToString(r.Dynamodb.SequenceNumber) >= start {
			out = append(out, r)
		}
	}
	return &dynamodbstreams.GetRecordsOutput{Records: out, NextShardIterator: aws.String("end")}, nil
}

func opsRecord(seq int, event, pk, sk string) streamtypes.Record {
	return streamtypes.Record{EventName: streamtypes.OperationType(event), Dynamodb: &streamtypes.StreamRecord{
		SequenceNumber: aws.String(fmt.Sprintf("%021d", seq)),
		Keys: map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: pk},
			"sk": &streamtypes.AttributeValueMemberS{Value: sk}}}}
}

// A registry change the mailer gave up on (mailer.Watch failed it: the
// team's or the former contact's email refused, the ledger throttled)
// for MaximumRetryAttempts or MaximumRecordAgeInSeconds goes to the
// failure queue as a DDBStreamBatchInfo: the shard and the first and last
// sequence numbers of the batch. The OpsStream mapping filters, so the
// batch holds the PROC# records alone, but the shard between its first and
// last holds every other write of the ops table made meanwhile (one shard
// serves the whole table: the asks and PROC#CONTACT written in the same
// approval transaction, rate counters, sent-markers, mailboxes...; a
// failing record blocks the shard, so a day's registry changes pile up
// behind it in one retried batch). privacyctl replay reads the whole range
// back (replay.records) and marks every record's item replayed
// (replay.touch); under PrivacyReplayPolicy only a PROC# item may be
// marked (ReplayMarksTheProcessors), so the first foreign item fails the
// replay (AccessDenied), the message stays, and the registry changes after
// it are never told. Fails on 375a984: the replay's requests are refused.
func TestReview12ReplayOfAGivenUpOpsBatchUnderItsPolicy(t *testing.T) {
	streamARN := table("OpsTable") + "/stream/2026-12-08T00:00:00.000"
	shard := &fakeShard{recs: []streamtypes.Record{
		opsRecord(100, "MODIFY", dynamo.ProcessorPrefix, "p-1"),      // the approved contact change the mailer gave up on
		opsRecord(101, "REMOVE", dynamo.ProcessorAskPK, "p-1"),       // the same approval's ask ended
		opsRecord(102, "INSERT", "PROC#CONTACT", "p-1"),              // a kept contact (before review 12's fix)
		opsRecord(103, "MODIFY", "RL#rights_ip#ab#2026-12-08", "RL"), // a form's counter
		opsRecord(104, "INSERT", dynamo.ProcessorPrefix, "p-2"),      // a registration behind it
	}}
	msg, _ := json.Marshal(map[string]any{
		"requestContext": map[string]any{"functionArn": function("MailerFunction") + ":$LATEST", "condition": "RetryAttemptsExhausted"},
		"DDBStreamBatchInfo": map[string]any{"shardId": "shardId-1", "startSequenceNumber": fmt.Sprintf("%021d", 100),
			"endSequenceNumber": fmt.Sprintf("%021d", 104), "streamArn": streamARN, "batchSize": 2},
	})
	var rep replay.Report
	reqs, _ := recordDB8(t, ok8, func(ctx context.Context, db *dynamodb.Client) error {
		// As privacyctl replay builds it (its -ops-table the stack's).
		r := &replay.Replayer{Queue: &fakeQueue{body: string(msg)}, QueueURL: "q", Streams: shard, Items: db, Log: io.Discard,
			Marks: replay.OnlyProcessors("OpsTable")}
		var err error
		rep, err = r.Run(ctx, 1)
		return err
	})
	if rep.Replayed != 1 {
		t.Fatalf("the replay did not go through even with every call answered: %+v", rep)
	}
	marked := map[string]bool{}
	for _, r := range reqs {
		if lk, ok := r.Context["dynamodb:LeadingKeys"].([]string); ok && r.Action == "dynamodb:UpdateItem" {
			marked[lk[0]] = true
		}
	}
	if !marked[dynamo.ProcessorPrefix] {
		t.Fatalf("the replay marked no registry item: %v", marked)
	}
	for _, r := range decide7(t, "PrivacyReplayPolicy", reqs) {
		t.Errorf("PrivacyReplayPolicy: %s", r)
	}
}
