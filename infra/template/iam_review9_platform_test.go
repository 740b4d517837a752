package template_test

import (
	"testing"

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
