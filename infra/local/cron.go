package local

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A schedule expression as EventBridge (Scheduler) reads it: rate(N unit)
// or cron(minutes hours day-of-month month day-of-week year), in UTC or in
// ScheduleExpressionTimezone. next returns the first fire time after t.
type schedule struct {
	expr string
	next func(t time.Time) time.Time
}

var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

func parseSchedule(e Event) (schedule, error) {
	expr := strings.TrimSpace(asString(e.Properties["ScheduleExpression"]))
	if e.Type == "Schedule" {
		expr = strings.TrimSpace(asString(e.Properties["Schedule"]))
	}
	if m := rateExpr.FindStringSubmatch(expr); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n < 1 {
			return schedule{}, fmt.Errorf("schedule %q: the rate must be at least 1", expr)
		}
		every := time.Duration(n) * map[string]time.Duration{"minute": time.Minute, "hour": time.Hour,
			"day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		return schedule{expr: expr, next: func(t time.Time) time.Time { return t.Add(every) }}, nil
	}
	inner, ok := strings.CutPrefix(expr, "cron(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return schedule{}, fmt.Errorf("schedule %q is neither rate(…) nor cron(…)", expr)
	}
	loc := time.UTC
	if tz := asString(e.Properties["ScheduleExpressionTimezone"]); tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return schedule{}, fmt.Errorf("schedule %q: timezone: %w", expr, err)
		}
	}
	c, err := parseCron(strings.TrimSuffix(inner, ")"))
	if err != nil {
		return schedule{}, fmt.Errorf("schedule %q: %w", expr, err)
	}
	return schedule{expr: expr, next: func(t time.Time) time.Time { return c.next(t.In(loc)) }}, nil
}

// cron is a parsed AWS cron expression: the allowed values of each field.
// Day of week is 1-7 for SUN-SAT. L, W and # are not read locally: such a
// field is an error, and the gateway says the schedule is not fired.
type cron struct {
	minute, hour, dom, month, dow, year map[int]bool
	anyDOM, anyDOW                      bool
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8,
		"SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(expr string) (cron, error) {
	f := strings.Fields(expr)
	if len(f) != 6 {
		return cron{}, fmt.Errorf("a cron expression has 6 fields, not %d", len(f))
	}
	var c cron
	var err error
	type spec struct {
		dst      *map[int]bool
		lo, hi   int
		names    map[string]int
		wildcard *bool
	}
	for i, s := range []spec{{&c.minute, 0, 59, nil, nil}, {&c.hour, 0, 23, nil, nil}, {&c.dom, 1, 31, nil, &c.anyDOM},
		{&c.month, 1, 12, monthNames, nil}, {&c.dow, 1, 7, dayNames, &c.anyDOW}, {&c.year, 1970, 2199, nil, nil}} {
		field := f[i]
		if field == "?" {
			if s.wildcard == nil {
				return cron{}, fmt.Errorf("field %d: ? is only for day of month or week", i+1)
			}
			*s.wildcard = true
			continue
		}
		if *s.dst, err = cronField(field, s.lo, s.hi, s.names); err != nil {
			return cron{}, fmt.Errorf("field %d %q: %w", i+1, field, err)
		}
	}
	if c.anyDOM == c.anyDOW {
		return cron{}, fmt.Errorf("exactly one of day of month and day of week must be ?")
	}
	return c, nil
}

func cronField(field string, lo, hi int, names map[string]int) (map[int]bool, error) {
	val := func(s string) (int, error) {
		if n, ok := names[strings.ToUpper(s)]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q is not a value from %d to %d", s, lo, hi)
		}
		return n, nil
	}
	out := map[int]bool{}
	for _, part := range strings.Split(field, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepStr); err != nil || step < 1 {
				return nil, fmt.Errorf("step %q", stepStr)
			}
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = val(a); err != nil {
				return nil, err
			}
			if to, err = val(b); err != nil {
				return nil, err
			}
		default:
			n, err := val(rng)
			if err != nil {
				return nil, err
			}
			from = n
			if !hasStep {
				to = n
			}
		}
		if from > to {
			return nil, fmt.Errorf("range %q runs backwards", rng)
		}
		for v := from; v <= to; v += step {
			out[v] = true
		}
	}
	return out, nil
}

// next is the first minute after t that the expression names (t's
// location), or the zero time when there is none within its years.
func (c cron) next(t time.Time) time.Time {
	t = t.Truncate(time.Minute).Add(time.Minute)
	for t.Year() <= 2199 {
		switch {
		case !c.year[t.Year()]:
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, t.Location())
		case !c.month[int(t.Month())]:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
		case !c.hour[t.Hour()]:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, t.Location())
		case !c.minute[t.Minute()]:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (c cron) dayMatches(t time.Time) bool {
	if c.anyDOW {
		return c.dom[t.Day()]
	}
	return c.dow[int(t.Weekday())+1]
}
