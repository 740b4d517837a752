package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The sweep's part for the processor role: each controller's own
// retention, and everything of a controller a year after its termination;
// a record written again since the index was read keeps its new period.
func TestExpireControllerRecords(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	h, _ := privacy.NewHasher([]byte("records-test-pepper-0123"))
	now := time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"acme", "beta", "gamma", "delta"} {
		if err := s.PutController(ctx, privacy.Controller{ID: id, SecretHash: "x", Name: id}, privacy.Event{At: now.AddDate(-2, 0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []error{
		s.SetControllerRetention(ctx, "acme", 30, privacy.Event{}),
		s.TerminateController(ctx, "beta", privacy.Event{At: now.AddDate(0, 0, -privacy.ControllerTerminationDays)}),    // a year ago: due
		s.TerminateController(ctx, "delta", privacy.Event{At: now.AddDate(0, 0, -privacy.ControllerTerminationDays+1)}), // not yet
		s.TerminateController(ctx, "delta", privacy.Event{At: now.AddDate(-5, 0, 0)}),                                   // the first termination counts
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if err := s.SetControllerRetention(ctx, "nobody", 30, privacy.Event{}); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("retention of an unknown controller: %v", err)
	}
	put := func(controller, id string, age time.Duration) {
		t.Helper()
		if _, _, err := s.PutRecord(ctx, privacy.Record{Controller: controller, ID: id,
			Keys: h.IdentityKeys(controller, "email", id+"@example.com"), Attributes: []byte(`{}`), UpdatedAt: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	cases := []struct {
		controller, id string
		age            time.Duration
		kept           bool
	}{
		{"acme", "old", 31 * day, false}, {"acme", "edge", 30*day + time.Second, false}, {"acme", "fresh", 29 * day, true},
		{"beta", "fresh", time.Hour, false}, {"beta", "old", 400 * day, false},
		{"gamma", "ancient", 3000 * day, true}, // no retention of its own, not terminated
		{"delta", "old", 400 * day, true},      // terminated 364 days ago (the second termination changed nothing)
	}
	for _, c := range cases {
		put(c.controller, c.id, c.age)
	}
	// Each controller's own sensitive key names, set long ago: they go with
	// a terminated controller's last records only, never by age.
	for _, c := range []string{"acme", "beta", "gamma", "delta"} {
		if err := s.SetSensitiveKeys(ctx, c, []string{"pin"}, now.Add(-800*day)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.ExpireControllerRecords(ctx, now, true); err != nil || n != 4 {
		t.Fatalf("dry run: %d, %v; want 4", n, err)
	}
	if _, err := s.GetRecord(ctx, "acme", "old"); err != nil {
		t.Fatal("a dry run deleted")
	}
	if n, err := s.ExpireControllerRecords(ctx, now, false); err != nil || n != 4 {
		t.Fatalf("run: %d, %v; want 4", n, err)
	}
	for _, c := range cases {
		if _, err := s.GetRecord(ctx, c.controller, c.id); (err == nil) != c.kept {
			t.Errorf("%s/%s: kept %v, want %v (%v)", c.controller, c.id, err == nil, c.kept, err)
		}
	}
	for _, c := range []struct {
		controller string
		kept       bool
	}{{"acme", true}, {"beta", false}, {"gamma", true}, {"delta", true}} {
		if names, err := s.SensitiveKeys(ctx, c.controller); err != nil || (len(names) == 1) != c.kept {
			t.Errorf("%s's sensitive key names: %v, %v; kept want %v", c.controller, names, err, c.kept)
		}
	}
	if n, err := s.ExpireControllerRecords(ctx, now, false); err != nil || n != 0 {
		t.Fatalf("second run: %d, %v", n, err)
	}
}

// A record whose updated_at is in the form stored times had before
// tsLayout (RFC 3339, the fraction trimmed, or whole seconds) is rewritten
// and erased like any other: the conditions "unchanged since read" match
// the time as stored, not only as ts renders it. They compared ts's
// fixed-width rendering alone, so such a record was never erased (the
// erasure reported 0 results) nor rewritten (the put failed).
func TestRecordStoredInTheOlderTimeForm(t *testing.T) {
	t.Parallel()
	s, db, tables := newStoreDB(t)
	ctx := context.Background()
	h, _ := privacy.NewHasher([]byte("records-test-pepper-0123"))
	for i, at := range []string{"2026-03-01T10:00:00.12Z", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00.123456789Z"} {
		id := fmt.Sprintf("old-%d", i)
		keys := h.IdentityKeys("acme", "email", id+"@example.com")
		rec := privacy.Record{Controller: "acme", ID: id, Keys: keys, Attributes: []byte(`{}`), UpdatedAt: time.Now().UTC()}
		if _, _, err := s.PutRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
		// As an older release stored it.
		storedAt := func() {
			t.Helper()
			if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tables.Records),
				Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "C#acme#" + id}, "sk": &types.AttributeValueMemberS{Value: "RECORD"}},
				UpdateExpression:          aws.String("SET updated_at = :u, created_at = :u"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: at}}}); err != nil {
				t.Fatal(err)
			}
		}
		storedAt()
		rec.Attributes, rec.UpdatedAt = []byte(`{"plan":"b"}`), time.Now().UTC()
		if _, _, err := s.PutRecord(ctx, rec); err != nil {
			t.Errorf("%s: rewrite of a record stored at %q: %v", id, at, err)
		}
		storedAt()
		if n, err := s.EraseKeyedRecords(ctx, "acme", keys[:1]); err != nil || n != 1 {
			t.Errorf("%s: erasure of a record stored at %q: %d erased, %v; want 1", id, at, n, err)
		}
		if _, err := s.GetRecord(ctx, "acme", id); !errors.Is(err, privacy.ErrNotFound) {
			t.Errorf("%s: the record stored at %q is still there after its erasure (%v)", id, at, err)
		}
	}
}
