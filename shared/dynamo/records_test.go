package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
