// Package limit applies abuse limits to public write routes: fixed-window
// counters keyed by a pseudonym of the source IP or by the subject hash,
// never by a raw address. A route either tells the caller (429 with
// Retry-After: a person who should know when to try again) or stays silent
// (202 as usual: where an answer would help an attacker, such as probing
// whether an address is being flooded).
package limit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Counter counts one use of key and reports whether it is within limit.
type Counter interface {
	Allow(ctx context.Context, key string, limit int, now time.Time) (bool, error)
}

// Rule is one limit: at most Max uses per Window. A fixed window lets a
// caller spend Max at the end of one window and Max again at the start of
// the next; a Rolling rule counts the window before too, so that no span
// of one Window holds more than Max (at the price of a caller who spent
// Max in one window waiting up to a second one).
type Rule struct {
	Name    string // for logs: "contact_ip"
	Max     int
	Window  time.Duration
	Rolling bool
}

// UsedCounter is a Counter that also reads how many uses a key counted
// (0 for none): a Rolling rule needs it.
type UsedCounter interface {
	Counter
	Used(ctx context.Context, key string) (int, error)
}

// Spent is what the window before used, by counter key: the rolling
// checks' part of a call, which may be read ahead (see Previous).
type Spent map[string]int

// counterKey is a check's counter in the window that starts at start.
func counterKey(ch Check, start time.Time) string {
	return ch.Rule.Name + "#" + ch.Key + "#" + strconv.FormatInt(start.Unix(), 10)
}

// Previous reads, for each rolling check among checks, how many uses its
// window before the one of now counted: a read only (what a past window
// counted no longer changes), so a caller may make it beside other work
// and pass it to EachSpent.
func Previous(ctx context.Context, c Counter, now time.Time, checks ...Check) (Spent, error) {
	spent := Spent{}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, ch := range checks {
		if !ch.Rule.Rolling || ch.Rule.Max <= 0 || ch.Rule.Window <= 0 {
			continue
		}
		uc, ok := c.(UsedCounter)
		if !ok {
			return nil, fmt.Errorf("limit %s: a rolling rule needs a counter that reads what it counted", ch.Rule.Name)
		}
		key := counterKey(ch, now.Truncate(ch.Rule.Window).Add(-ch.Rule.Window))
		if _, seen := spent[key]; seen {
			continue
		}
		spent[key] = 0
		wg.Go(func() {
			n, err := uc.Used(ctx, key)
			mu.Lock()
			defer mu.Unlock()
			spent[key] = n
			if err != nil {
				errs = append(errs, fmt.Errorf("limit %s: %w", ch.Rule.Name, err))
			}
		})
	}
	wg.Wait()
	return spent, errors.Join(errs...)
}

// Check is a rule applied to one key (an IP pseudonym, a subject hash).
type Check struct {
	Rule Rule
	Key  string
}

// Exceeded says which rule a caller went over and when its window ends.
type Exceeded struct {
	Rule       Rule
	RetryAfter time.Duration
}

// Apply counts every check at once (one round trip, not one per check)
// and returns the first rule exceeded in the order given, or nil. A rule
// with Max 0 is off. Every check is counted, even when another is
// exceeded: a refused call uses up the other budgets too, which only
// makes a limit bite sooner. (A caller whose other budgets belong to
// someone else checks its own first: see Each.)
func Apply(ctx context.Context, c Counter, now time.Time, checks ...Check) (*Exceeded, error) {
	over, err := Each(ctx, c, now, checks...)
	for _, ex := range over {
		if ex != nil {
			return ex, err
		}
	}
	return nil, err
}

// Each counts every check at once, as Apply does, and reports for each
// whether it is exceeded (nil: within its limit, or the rule is off). A
// rolling check first reads its window before (one more round trip; see
// EachSpent to read it ahead).
func Each(ctx context.Context, c Counter, now time.Time, checks ...Check) ([]*Exceeded, error) {
	spent, err := Previous(ctx, c, now, checks...)
	if err != nil {
		return nil, err
	}
	return EachSpent(ctx, c, now, spent, checks...)
}

// EachSpent is Each with the rolling checks' windows before already read
// (Previous, for the same checks at the same now).
func EachSpent(ctx context.Context, c Counter, now time.Time, spent Spent, checks ...Check) ([]*Exceeded, error) {
	type outcome struct {
		ok  bool
		err error
	}
	out := make([]outcome, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		if ch.Rule.Max <= 0 || ch.Rule.Window <= 0 {
			out[i].ok = true
			continue
		}
		start := now.Truncate(ch.Rule.Window)
		max := ch.Rule.Max
		if ch.Rule.Rolling {
			before, ok := spent[counterKey(ch, start.Add(-ch.Rule.Window))]
			if !ok {
				return nil, fmt.Errorf("limit %s: the window before was not read", ch.Rule.Name)
			}
			if max -= before; max <= 0 {
				continue // out[i].ok stays false: nothing is left to count
			}
		}
		wg.Go(func() {
			ok, err := c.Allow(ctx, counterKey(ch, start), max, now)
			out[i] = outcome{ok, err}
		})
	}
	wg.Wait()
	over := make([]*Exceeded, len(checks))
	for i, ch := range checks {
		if err := out[i].err; err != nil {
			return nil, fmt.Errorf("limit %s: %w", ch.Rule.Name, err)
		}
		if !out[i].ok {
			start := now.Truncate(ch.Rule.Window)
			over[i] = &Exceeded{Rule: ch.Rule, RetryAfter: start.Add(ch.Rule.Window).Sub(now)}
			if ch.Rule.Rolling && spent[counterKey(ch, start.Add(-ch.Rule.Window))] == 0 {
				// This window spent it all: the next one counts it as its
				// window before.
				over[i].RetryAfter += ch.Rule.Window
			}
		}
	}
	return over, nil
}

// SourceThen applies source first and, only when within it, target: a
// call refused at its source spends nobody's budget (a per-address
// budget may be someone else's). target's window before, when it rolls, is
// read beside source's count, so this takes the round trips of two fixed
// rules.
func SourceThen(ctx context.Context, c Counter, now time.Time, source, target Check) (*Exceeded, error) {
	var (
		spent   Spent
		readErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() { spent, readErr = Previous(ctx, c, now, target) })
	ex, err := Apply(ctx, c, now, source)
	wg.Wait()
	if err != nil || ex != nil {
		return ex, err
	}
	if readErr != nil {
		return nil, readErr
	}
	over, err := EachSpent(ctx, c, now, spent, target)
	if err != nil {
		return nil, err
	}
	return over[0], nil
}

// Pseudonymizer keys an identifier so a counter never holds it
// (privacy.Hasher does).
type Pseudonymizer interface {
	Pseudonym(kind, value string) string
}

// IPKey is the counter key of a per-IP limit for source address ip: the
// pseudonym of its SourceKey.
func IPKey(p Pseudonymizer, ip string) string { return p.Pseudonym("ip", SourceKey(ip)) }

// SourceKey is what a per-IP limit counts by: an IPv4 address itself, an
// IPv6 address by its /64 (one subscriber's line usually holds a whole /64,
// so counting single addresses would give one caller 2^64 budgets). What
// is not an address is counted as given.
func SourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
