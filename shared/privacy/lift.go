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

// ProcessorAsk is a team member's ask to register a processor or to
// change a registered processor's privacy contact address: what it would
// do changes where people's erasures, rectifications and restrictions
// (each with the person's address) are sent, so it takes effect only
// when a second member approves it (operator.ApproveProcessorAsk). It
// changes nothing until then; a new ask for the same processor replaces
// it, and it lapses ProcessorAskLapses after it was asked.
type ProcessorAsk struct {
	// ID names the ask: the approval names it, so an approval of an ask
	// replaced meanwhile approves nothing.
	ID string
	// Kind is ProcessorAskAdd (Processor is the whole registration, its
	// credentials sealed) or ProcessorAskContact (Processor.ID and its
	// new Processor.Contact).
	Kind      string
	Processor Processor
	// Was is the contact address in force when asked (a contact change):
	// the approval fails once it is no longer the processor's.
	Was     string
	AskedBy string
	AskedAt time.Time
	Reason  string
}

// Kinds of ProcessorAsk.
const (
	ProcessorAskAdd     = "register"
	ProcessorAskContact = "contact"
)

// ProcessorAskLapses is how long an ask waits for its approval: long
// enough for a colleague to check it with the processor (a weekend
// included), short enough that what the approver checks is still what
// the asker saw; an older ask is refused and must be asked again.
const ProcessorAskLapses = 72 * time.Hour

// Lapsed reports whether a is past its approval at now.
func (a ProcessorAsk) Lapsed(now time.Time) bool {
	return !now.Before(a.AskedAt.Add(ProcessorAskLapses))
}

// ContactNotice is the email telling a processor's former privacy
// contact address that the team changed it: the processor's name, when
// and the new address's domain, never anything of a person.
type ContactNotice struct {
	ProcessorID, ProcessorName string
	To                         string
	NewDomain                  string
	ChangedAt                  time.Time
}

// MailContactChanged is the ContactNotice due (Ref: the approved ask's id).
const MailContactChanged MailKind = "processor_contact_changed"
