package processor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The due cursors are handed out one controller at a time, in turn, and
// never more than the share of one controller at once: a controller with
// 50 due cursors ahead of another's one does not go first with all 50.
func TestFairQueue(t *testing.T) {
	due := func(ctrl string, n int) []privacy.DueCallback {
		var out []privacy.DueCallback
		for i := range n {
			out = append(out, privacy.DueCallback{Key: fmt.Sprintf("%s%d", ctrl, i+1), Controller: ctrl})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		due  []privacy.DueCallback
		// steps: "+" takes one (want the key named, or "-" for none
		// allowed now), "<ctrl" finishes one of ctrl's.
		steps []string
	}{
		{"one controller's 50 ahead of another's one",
			append(due("A", 50), due("B", 1)...),
			[]string{"+A1", "+B1", "+A2", "+-", "<B", "+-", "<A", "+A3", "+-", "<A", "<A", "+A4", "+A5", "+-"}},
		{"three controllers in turn",
			append(append(due("A", 3), due("B", 3)...), due("C", 1)...),
			[]string{"+A1", "+B1", "+C1", "+A2", "+B2", "+-", "<C", "+-", "<A", "+A3", "<B", "+B3", "+-"}},
		{"nothing due", nil, []string{"+-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newFairQueue(tc.due, 2)
			for i, st := range tc.steps {
				if ctrl, ok := strings.CutPrefix(st, "<"); ok {
					q.finished(ctrl)
					continue
				}
				c, ok := q.take()
				got := "-"
				if ok {
					got = c.Key
				}
				if want := st[1:]; got != want {
					t.Fatalf("step %d: took %q, want %q", i, got, want)
				}
				for ctrl, n := range q.inFlight {
					if n > 2 {
						t.Fatalf("step %d: %d of %s's in flight", i, n, ctrl)
					}
				}
			}
		})
	}
}
