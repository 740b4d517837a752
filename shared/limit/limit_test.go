package limit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// counts is an in-memory Counter with the store's semantics (count only
// when within the limit); the DynamoDB counter is tested in shared/dynamo.
// It notes how many calls were in flight at once.
type counts struct {
	mu                sync.Mutex
	n                 map[string]int
	inFlight, maxSeen int
}

func (c *counts) Allow(_ context.Context, key string, limit int, _ time.Time) (bool, error) {
	c.mu.Lock()
	c.inFlight++
	c.maxSeen = max(c.maxSeen, c.inFlight)
	c.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // a round trip, so calls made together overlap
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
	if c.n[key] >= limit {
		return false, nil
	}
	c.n[key]++
	return true, nil
}

func TestApply(t *testing.T) {
	ip := Rule{Name: "ip", Max: 2, Window: time.Hour}
	addr := Rule{Name: "addr", Max: 1, Window: 24 * time.Hour}
	at := time.Date(2026, 11, 29, 10, 15, 0, 0, time.UTC)
	c := &counts{n: map[string]int{}}
	steps := []struct {
		at        time.Time
		ipKey     string
		addrKey   string
		want      string // "" or the rule exceeded
		wantRetry time.Duration
	}{
		{at, "a", "x", "", 0},
		{at, "a", "y", "", 0},
		{at.Add(time.Minute), "a", "z", "ip", 44 * time.Minute},                // third from a in the hour
		{at.Add(time.Minute), "b", "x", "addr", 13*time.Hour + 44*time.Minute}, // x again the same day
		{at.Add(time.Hour), "a", "w", "", 0},                                   // a new hour
		// z was counted at the refused third call: every check counts.
		{at.Add(time.Hour), "b", "z", "addr", 12*time.Hour + 45*time.Minute},
	}
	for i, s := range steps {
		ex, err := Apply(context.Background(), c, s.at, Check{ip, s.ipKey}, Check{addr, s.addrKey})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if ex != nil {
			got = ex.Rule.Name
		}
		if got != s.want || (ex != nil && ex.RetryAfter != s.wantRetry) {
			t.Fatalf("step %d: exceeded %q (%+v), want %q after %v", i, got, ex, s.want, s.wantRetry)
		}
	}
	if c.n["addr#z#"+strconv.FormatInt(at.Truncate(24*time.Hour).Unix(), 10)] != 1 {
		t.Fatalf("counts %v", c.n)
	}
	if c.maxSeen != 2 {
		t.Fatalf("%d counters in flight at once, want both checks together", c.maxSeen)
	}
	if ex, _ := Apply(context.Background(), c, at, Check{Rule{Name: "off"}, "k"}); ex != nil {
		t.Fatal("a rule with no maximum limits nothing")
	}
	if _, err := Apply(context.Background(), failing{}, at, Check{ip, "a"}); err == nil {
		t.Fatal("a counter error must reach the caller (503), not let the call through")
	}
}

type failing struct{}

func (failing) Allow(context.Context, string, int, time.Time) (bool, error) {
	return false, errors.New("down")
}

func TestSourceKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an ip", "not an ip"},
	}
	for _, tt := range tests {
		if got := SourceKey(tt.in); got != tt.want {
			t.Errorf("SourceKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
