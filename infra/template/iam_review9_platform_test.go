package template_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/privacykeeper/privacykeeper/shared/deadlines"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/notify"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// #35's readers of the Platform's requests (the digest, the team's
// board) query by-status-due for the open statuses alone
// (privacy.OpenStatuses: deadlines.Watch.Run, operator.platformRows skips
// the closed ones; "a closed Platform request is the controller's to read
// through OpenDSR"). Their grants name no dynamodb:LeadingKeys, so either
// role reads every closed Platform request's summary too (completed,
// denied, cancelled, expired: which controller asked what of whom, when,
// for as long as the table keeps them). Fails on the template under
// review.
func TestIAMReview9PlatformReadersQueryOpenStatusesOnly(t *testing.T) {
	index := table("PlatformRequestsTable") + "/index/by-status-due"
	var asks []ask
	for _, who := range platformReaders {
		for _, st := range privacy.OpenStatuses() {
			ctx := summary(platformSummary...)
			ctx["dynamodb:LeadingKeys"] = []string{string(st)}
			asks = append(asks, ask{who, "dynamodb:Query", index, ctx, true})
		}
		for _, st := range []privacy.Status{privacy.RequestCompleted, privacy.RequestDenied, privacy.RequestCancelled,
			privacy.RequestExpired, privacy.RequestRedirected} {
			ctx := summary(platformSummary...)
			ctx["dynamodb:LeadingKeys"] = []string{string(st)}
			asks = append(asks, ask{who, "dynamodb:Query", index, ctx, false})
		}
	}
	check(t, asks)
}

// The site's side of the same read: dynamo.Store.DueRequests now asks
// RequestsTable's by-status-due (projection ALL) for the summary alone
// too (Select SPECIFIC_ATTRIBUTES and a projection), and DeliverySummaries
// names what it reads; they are the only reads DeadlineWatchFunction makes
// there (replayed here, a run of the watch: they must stay allowed). But
// its grant (RequestsByStatusAndDueDate) still lets it read every site
// request whole from the index: the requester's address, name, what they
// wrote, a parent's or agent's address. Fails on the template under
// review.
func TestIAMReview9DeadlineWatchReadsTheSitesSummaryOnly(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	reqs, ops := recordDB8(t, ok8, func(ctx context.Context, db *dynamodb.Client) error {
		w := &deadlines.Watch{Store: dynamo.New(db, siteTables7), Platform: dynamo.New(db, dynamo.Tables{Requests: "PlatformRequestsTable"}),
			Mail: senderFunc(func(notify.Message) {}), Config: notify.Config{TeamInbox: "team@example.com"},
			Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		_, err := w.Run(ctx)
		return err
	})
	if !slices.Contains(ops, "Query RequestsTable") {
		t.Fatalf("the watch read nothing of the site's requests: %v", ops)
	}
	for _, r := range decide7(t, "DeadlineWatchFunction", reqs) {
		t.Errorf("the watch's own call refused: %s", r)
	}
	index := table("RequestsTable") + "/index/by-status-due"
	whole := map[string]any{"dynamodb:LeadingKeys": []string{"pending"}}
	withEmail := summary(append(platformSummary, "email", "name", "details")...)
	check(t, []ask{
		{"DeadlineWatchFunction", "dynamodb:Query", index, whole, false},
		{"DeadlineWatchFunction", "dynamodb:Query", index, withEmail, false},
	})
}
