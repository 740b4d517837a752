package privacy

import (
	"slices"
	"time"
)

// LiftAsk is a team member's ask to lift a person's suppressions for
// reasons that a second member must approve (SecondMemberLifts): who
// asked, when and why. It changes nothing until another member approves
// it.
type LiftAsk struct {
	Subject SubjectID
	Reasons []string
	AskedBy string
	AskedAt time.Time
	Reason  string
}

// SecondMemberLifts reports whether lifting reasons needs a second team
// member: a complaint or an objection is the person's own word against
// marketing, so no one member alone may overrule it.
func SecondMemberLifts(reasons []string) bool {
	return slices.ContainsFunc(reasons, func(r string) bool { return r == SuppressComplained || r == SuppressObjected })
}
