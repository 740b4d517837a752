package deadlines_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/deadlines"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// failing is the Platform's table when it cannot be read (throttled under
// a controller's burst on the by-status-due index's "pending" partition,
// a grant or index changed, an item the query cannot page past).
type failing struct{}

func (failing) DueRequests(context.Context, privacy.Status, time.Time) ([]privacy.RightsRequest, error) {
	return nil, errors.New("ProvisionedThroughputExceededException")
}

// HOSTILE (review 9): the digest now depends on the Platform's table: when
// it cannot be read, Run fails and nobody is told of the site's own
// overdue requests either (the same holds for the board: operator.List
// fails whole). The Platform's requests are the processor worker's and
// the controllers'; a failure of their table must not silence the site's
// deadlines: the site's part is sent, with a line that the Platform's
// could not be read (and the error still surfaces for the alarm).
func TestHostilePlatformFailureSilencesTheSitesDigest(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	var sent outbox
	w := &deadlines.Watch{
		Store:    site{requests{{ID: "site-late", Type: privacy.RightErasure, Status: privacy.RequestPending, DueAt: now.Add(-24 * time.Hour)}}},
		Platform: failing{}, Mail: &sent,
		Config: notify.Config{TeamInbox: "team@example.com"}, Now: func() time.Time { return now },
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	_, err := w.Run(context.Background())
	if len(sent) != 1 || !strings.Contains(sent[0].Text, "site-late") {
		t.Fatalf("the Platform's table unreadable: %d digests sent (err %v); the site's overdue erasure reached nobody", len(sent), err)
	}
	if err == nil || !strings.Contains(sent[0].Text, "COULD NOT BE READ") {
		t.Errorf("the digest without the Platform's requests does not say so (text %q), or the run does not fail for the alarm (err %v)", sent[0].Text, err)
	}
}
