package privacy

// The groups of request statuses, each defined once: the desk, the
// deadline watch, the console and the policy notices all read these.

// TeamStatuses are the open requests the team is to act on: verified,
// and not waiting on the requester.
func TeamStatuses() []string {
	return []string{RequestPending, RequestInProgress, RequestAwaitingReview}
}

// WaitingStatuses are the open requests waiting on the requester: to
// verify the address, or to answer the team's question (whose clock runs
// all the same: past its due date it is overdue).
func WaitingStatuses() []string {
	return []string{RequestIdentityUnverified, RequestWaitingForInformation}
}

// OpenStatuses are the requests still to be answered: the team's and
// those waiting on the requester.
func OpenStatuses() []string { return append(TeamStatuses(), WaitingStatuses()...) }

// VerifiedOpenStatuses are the open requests whose address is proven:
// the only ones whose requester may be told anything the team or the
// policy writes (an unverified request's address may be a stranger's).
func VerifiedOpenStatuses() []string {
	return append(TeamStatuses(), RequestWaitingForInformation)
}
