package web

import (
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The console's pages show privacy's named types (a status, a type) as
// they show strings: label reads either (a request's status once broke
// the queue with "wrong type for value").
func TestConsoleLabelsTypedValues(t *testing.T) {
	type row struct {
		ID, Short, Regulation string
		Type                  privacy.Right
		Status                privacy.Status
		ReceivedAt, DueAt     time.Time
		Flags                 []string
		Overdue, Platform     bool
	}
	type filter struct {
		Status, Type           string
		Overdue, Soon, Waiting bool
	}
	data := struct {
		Filter filter
		Counts []struct {
			Label, URL string
			N          int
		}
		Rows     []row
		Statuses []privacy.Status
		Types    []privacy.Right
		Warning  string
	}{Filter: filter{Status: string(privacy.RequestAwaitingReview)},
		Rows:     []row{{ID: "r1", Short: "r1", Type: privacy.RightWithdrawConsent, Status: privacy.RequestAwaitingReview}},
		Statuses: privacy.OpenStatuses(), Types: privacy.RightTypes()}
	out, err := RenderConsole("queue", ConsolePage{Title: "Rights requests", Nav: "queue", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<td>withdraw consent</td><td>awaiting review</td>",
		`<option value="awaiting_review" selected>awaiting review</option>`, `<option value="know_categories">know categories</option>`} {
		if !strings.Contains(out, want) {
			t.Errorf("queue lacks %q", want)
		}
	}
}
