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

func (c *counts) Used(_ context.Context, key string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key], nil
}

// A rolling rule holds at most Max in any span of its window: spent at
// the end of one day, the budget is not whole again at midnight (the
// fourth review found 20 of a daily 10 in two seconds); the day after,
// what the day before left is there again.
func TestRollingWindow(t *testing.T) {
	day := Rule{Name: "addr", Max: 10, Window: 24 * time.Hour, Rolling: true}
	midnight := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	c := &counts{n: map[string]int{}}
	allowed := func(at time.Time, n int) int {
		got := 0
		for range n {
			over, err := Each(context.Background(), c, at, Check{day, "x"})
			if err != nil {
				t.Fatal(err)
			}
			if over[0] == nil {
				got++
			}
		}
		return got
	}
	for _, s := range []struct {
		at        time.Time
		try, want int
	}{
		{midnight.Add(-time.Hour), 4, 4},         // 4 of 10 on the 7th
		{midnight.Add(-time.Second), 20, 6},      // the other 6
		{midnight.Add(time.Second), 20, 0},       // the 8th: the 7th spent them all
		{midnight.Add(24 * time.Hour), 20, 10},   // the 9th: the 8th spent none
		{midnight.Add(48 * time.Hour), 20, 0},    // the 10th: the 9th spent all 10
		{midnight.Add(72*time.Hour + 1), 20, 10}, // the 11th
	} {
		if got := allowed(s.at, s.try); got != s.want {
			t.Errorf("at %s: %d allowed of %d tried, want %d", s.at.Format(time.DateTime), got, s.try, s.want)
		}
	}
	// A fixed rule (the default) allows a whole Max in each day.
	fixed := day
	fixed.Rolling, fixed.Name = false, "fixed"
	n := 0
	for _, at := range []time.Time{midnight.Add(-time.Second), midnight.Add(time.Second)} {
		for range 20 {
			if over, _ := Each(context.Background(), c, at, Check{fixed, "y"}); over[0] == nil {
				n++
			}
		}
	}
	if n != 20 {
		t.Fatalf("a fixed window allowed %d across midnight, want 20 (10 a day)", n)
	}
}

// A rolling rule needs a counter that can read what it counted.
func TestRollingNeedsUsed(t *testing.T) {
	type allowOnly struct{ Counter }
	_, err := Each(context.Background(), allowOnly{&counts{n: map[string]int{}}}, time.Now(),
		Check{Rule{Name: "r", Max: 1, Window: time.Hour, Rolling: true}, "k"})
	if err == nil {
		t.Fatal("a rolling rule ran on a counter that cannot read")
	}
}
