package privacy

import (
	"context"
	"sort"
	"time"
)

// PolicyVersion is one version of the privacy policy as the team
// published it (privacyctl policy publish). History is never rewritten: a
// version is published once, and the one in force is the latest whose
// Effective day has come (InForce).
type PolicyVersion struct {
	Version   string
	Effective time.Time // the "Last updated" day, midnight UTC
	Summary   string
	// Material is a change people must be told of: it sends one notice to
	// every confirmed subscriber and every person with an open request.
	Material bool
	// NewPurposes are the topics this version adds. Nobody is enrolled:
	// subscribers are offered each with a double opt-in link.
	NewPurposes []string
	// Bases are the legal basis the version states for each purpose
	// (complete once published; nil in a version from before, which
	// stated the defaults).
	Bases       Bases
	PublishedAt time.Time
	PublishedBy string
	// Notices is how the notices of this version stand (NoticesPending
	// while they are being planned).
	Notices NoticeProgress
}

// NoticeProgress is how far a version's notices are: planned per
// audience, and where the planner stopped (an opaque cursor of the store).
type NoticeProgress struct {
	State       string // NoticesNone, NoticesPending, NoticesDone
	Phase       string // NoticeSubscribers, then NoticeRequesters, then NoticeInquirers
	Cursor      string
	Subscribers int
	Requesters  int
	Inquirers   int
	Updated     time.Time
}

// Notice states and audiences.
const (
	NoticesNone       = "none"
	NoticesPending    = "pending"
	NoticesDone       = "done"
	NoticeSubscribers = "subscribers"
	NoticeRequesters  = "requesters"
	// NoticeInquirers are the people whose inquiries (contact form
	// messages) are still kept: a material change concerns them too.
	NoticeInquirers = "inquirers"
)

// Notifies reports whether publishing v sends anything: a material change
// is told to everyone with a live relationship; a new purpose is offered
// to subscribers.
func (v PolicyVersion) Notifies() bool { return v.Material || len(v.NewPurposes) > 0 }

// Audiences are who v's notices go to, in the order they are planned.
func (v PolicyVersion) Audiences() []string {
	switch {
	case v.Material:
		return []string{NoticeSubscribers, NoticeRequesters, NoticeInquirers}
	case len(v.NewPurposes) > 0:
		return []string{NoticeSubscribers}
	}
	return nil
}

// LastUpdated is the day pages and emails show ("" when not known).
func (v PolicyVersion) LastUpdated() string {
	if v.Effective.IsZero() {
		return ""
	}
	return v.Effective.UTC().Format(time.DateOnly)
}

// InitialPolicy is the version a deployment starts with (the template's
// PolicyVersion): its effective day when the version is a date.
func InitialPolicy(version string) PolicyVersion {
	v := PolicyVersion{Version: version}
	if d, err := time.Parse(time.DateOnly, version); err == nil {
		v.Effective = d
	}
	return v
}

// InForce is the version in force at now: of those published whose
// Effective day has come, the latest (the later publication on a tie);
// initial when none has.
func InForce(history []PolicyVersion, now time.Time, initial PolicyVersion) PolicyVersion {
	var due []PolicyVersion
	for _, v := range history {
		if !v.Effective.After(now) {
			due = append(due, v)
		}
	}
	if len(due) == 0 {
		return initial
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].Effective.Equal(due[j].Effective) {
			return due[i].Effective.Before(due[j].Effective)
		}
		return due[i].PublishedAt.Before(due[j].PublishedAt)
	})
	return due[len(due)-1]
}

// PolicyInForce returns the version in force now; every new record carries
// it. Its implementation caches briefly (shared/policy).
type PolicyInForce func(ctx context.Context) PolicyVersion

// FixedPolicy is a PolicyInForce that never changes (tests, tools).
func FixedPolicy(version string) PolicyInForce {
	v := InitialPolicy(version)
	return func(context.Context) PolicyVersion { return v }
}

// Notice is a policy notice due to one person: the version's summary, and
// for a subscriber the new topics they may opt in to (Offers).
type Notice struct {
	Subject  SubjectID
	Email    string
	Audience string
	// Ref names what makes it due to the person: "subscription", the
	// open request's id, or the kept inquiry's id.
	Ref     string
	Version PolicyVersion
	Offers  []string
	// Lang is the language of the person's subscription, request or
	// inquiry.
	Lang string
}
