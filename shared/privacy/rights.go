package privacy

import (
	"slices"
	"strings"
	"time"
)

// Right is a rights request's type, as stored in its "type".
type Right string

// The rights of the policy's section 8, as request types.
const (
	RightAccess          Right = "access"
	RightRectification   Right = "rectification"
	RightErasure         Right = "erasure"
	RightObjection       Right = "objection"
	RightRestriction     Right = "restriction"
	RightPortability     Right = "portability"
	RightWithdrawConsent Right = "withdraw_consent"
	// The CCPA's: the opt-out of the sale and sharing of personal data
	// (recorded and confirmed at once: nothing is sold or shared), and the
	// right to know the categories of personal data collected.
	RightOptOutOfSale   Right = "opt_out_of_sale"
	RightKnowCategories Right = "know_categories"
)

var rights = []Right{RightAccess, RightRectification, RightErasure, RightObjection, RightRestriction,
	RightPortability, RightWithdrawConsent, RightOptOutOfSale, RightKnowCategories}

// RightTypes returns every request type, in the policy's order.
func RightTypes() []Right { return slices.Clone(rights) }

// Recipients are who receives personal data the system holds, as every
// answer that lists them says it (the export, the categories).
func Recipients() []string {
	return []string{"Amazon Web Services (hosting, storage and email delivery, as our processor)", "our team, to answer you",
		"the processors we registered, told of each erasure (GDPR Art. 19)"}
}

// Sources are where the personal data the system holds comes from.
func Sources() []string {
	return []string{"you: the forms and requests you send us", "your browser: the request metadata sent with a form",
		"our email provider: whether our emails to you were delivered, bounced or reported"}
}

// PurposeBasis is a purpose and its legal basis.
type PurposeBasis struct {
	Purpose    string `json:"purpose"`
	LegalBasis string `json:"legal_basis"`
}

// Purposes are why the system processes personal data, each with the
// legal basis bases state for it (the policy version in force), and the
// privacy requests (a legal obligation).
func Purposes(bases Bases) []PurposeBasis {
	var out []PurposeBasis
	for _, p := range StatedPurposes() {
		out = append(out, PurposeBasis{Purpose: p, LegalBasis: bases.Of(p)})
	}
	return append(out, PurposeBasis{Purpose: PurposePrivacyRequests, LegalBasis: BasisLegalObligation})
}

// Regulations a request can be made under. "other" is answered on the
// GDPR's (shorter) clock.
const (
	RegulationGDPR  = "gdpr"
	RegulationCCPA  = "ccpa"
	RegulationOther = "other"
)

// Relationship is the requester's relationship to the company, as
// stored in a request's "relationship".
type Relationship string

// Relationships of the requester to the company.
var relationships = []Relationship{"visitor", "subscriber", "prospect", "client", "job_applicant", RelationshipPlatformEndUser,
	RelationshipParent, RelationshipAgent}

// RelationshipAgent is an authorised agent filing for the person (CCPA):
// email is the person's address, agent_email the agent's. The person gets
// the verification link and every answer; the agent is told how the
// request stands, and never sees the person's data.
const RelationshipAgent Relationship = "authorized_agent"

// RelationshipParent is a parent or guardian asking for a child's data
// (policy §2): email is the child's address, parent_email the parent's.
// Such a request (access or erasure) restricts the child's processing at
// once, is due in ParentDays, is reviewed by the team (a parent cannot be
// verified by a link to the child's inbox) and is answered at the
// parent's address.
const RelationshipParent Relationship = "parent_or_guardian"

// ParentDays is how soon a parent's request is answered: "promptly".
const ParentDays = 7

// RelationshipPlatformEndUser is a client's own customer: the company is
// the processor for that data, so the request is redirected to the client.
const RelationshipPlatformEndUser Relationship = "platform_end_user"

// Scopes of an objection (GDPR Art. 21). Marketing (the default) is
// absolute and carried out at once; all (processing on the company's
// legitimate interests: inquiries, sales follow-up) restricts processing at
// once (Art. 18(1)(d)) and waits for the team, who either uphold it or
// state compelling grounds that override it.
const (
	ScopeMarketing = "marketing"
	ScopeAll       = "all"
)

// The fields a rectification may correct, as stored: the team's approval
// applies the new value to every item of the subject that holds the field
// (a new address moves the subject to the new address's key).
const (
	FieldName    = "name"
	FieldCompany = "company"
	FieldPhone   = "phone"
	FieldEmail   = "email"
)

// Correction is a rectification's field and new value.
type Correction struct {
	Field, Value string
}

// MaxDetails bounds a request's free text.
const MaxDetails = 5000

// MaxQuestion bounds the team's question to a requester, MaxAnswer the
// requester's answer.
const (
	MaxQuestion = 2000
	MaxAnswer   = 5000
)

// ParseAnswer validates a requester's answer to the team's question
// (field "answer"): required, multi-line text without control or
// invisible formatting characters, at most MaxAnswer characters.
func ParseAnswer(in Input) (string, error) {
	errs := FieldErrors{}
	a := multiLine(errs, "answer", in.String(errs, "answer"), true, MaxAnswer)
	return a, errs.Err()
}

// RightsRequestForm is a validated rights request as the requester files it.
type RightsRequestForm struct {
	Email        string
	Name         string
	Type         Right
	Details      string
	Relationship Relationship
	Regulation   string
	// Scope is an objection's: ScopeMarketing or ScopeAll ("" for the
	// other rights).
	Scope string
	// RecipientEmail is the third party a portability request's export
	// goes to (policy §8f, "to you, or a third party you have chosen").
	RecipientEmail string
	// Correction is a rectification's field and new value, when it names
	// them (then details are optional).
	Correction Correction
	// ParentEmail is the parent's or guardian's own address, on a request
	// made for a child (RelationshipParent).
	ParentEmail string
	// AgentEmail is an authorised agent's address (RelationshipAgent).
	AgentEmail string
}

// The roles an address has in a request, as far as mail goes: the
// requester is the person filing under their own address; the others are
// named by the filer (a parent, an agent, a recipient of a copy, a
// correction's new address). A requester's mail and a named address's
// count against budgets apart, so strangers who name someone cannot spend
// what that person needs to file their own request.
const (
	RoleRequester  = "requester"
	RoleParent     = "parent"
	RoleAgent      = "agent"
	RoleRecipient  = "recipient"
	RoleNewAddress = "new_address"
)

// MailedAddress is an address a filing will mail, and its role.
type MailedAddress struct {
	Role, Address string
}

// Mailed returns every address a filing will send mail to, with its
// role: the requester (a parent's request: the parent, and nothing goes to
// the child), an agent, a recipient, a correction's new address. Each
// counts against a per-address limit.
func (f RightsRequestForm) Mailed() []MailedAddress {
	out := []MailedAddress{{RoleRequester, f.Email}}
	if f.Relationship == RelationshipParent {
		out[0] = MailedAddress{RoleParent, f.ParentEmail}
	}
	for _, m := range []MailedAddress{{RoleAgent, f.AgentEmail}, {RoleRecipient, f.RecipientEmail}} {
		if m.Address != "" {
			out = append(out, m)
		}
	}
	if f.Correction.Field == FieldEmail {
		out = append(out, MailedAddress{RoleNewAddress, f.Correction.Value})
	}
	return out
}

func oneOf[S ~string](errs FieldErrors, field, v string, allowed []S, def S) S {
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if S(v) == a {
			return a
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	errs.Add(field, OneOf(names...))
	return ""
}

// ParseRightsRequest validates a request against the contract: a known
// type, details required for rectification (what is wrong and what it
// should be), regulation gdpr by default.
func ParseRightsRequest(in Input) (RightsRequestForm, error) {
	errs := FieldErrors{}
	f := RightsRequestForm{
		Email:   checkEmail(errs, "email", in.String(errs, "email")),
		Name:    singleLine(errs, "name", in.String(errs, "name"), false, MaxName),
		Details: multiLine(errs, "details", in.String(errs, "details"), false, MaxDetails),
	}
	typ := in.String(errs, "type")
	if typ == "" && !errs.Has("type") {
		errs.Add("type", Fault(FieldRequired))
	}
	f.Type = oneOf(errs, "type", typ, rights, "")
	f.Relationship = oneOf(errs, "relationship", in.String(errs, "relationship"), relationships, "")
	f.Regulation = oneOf(errs, "regulation", in.String(errs, "regulation"), []string{RegulationGDPR, RegulationCCPA, RegulationOther}, RegulationGDPR)
	scope := in.String(errs, "scope")
	switch {
	case f.Type == RightObjection:
		f.Scope = oneOf(errs, "scope", scope, []string{ScopeMarketing, ScopeAll}, ScopeMarketing)
	case scope != "" && f.Type != "":
		errs.Add("scope", Fault(FieldOnlyObjection))
	}
	if rcpt := in.String(errs, "recipient_email"); rcpt != "" && !errs.Has("recipient_email") {
		if f.Type != RightPortability && f.Type != "" {
			errs.Add("recipient_email", Fault(FieldOnlyPortability))
		} else if f.Relationship == RelationshipAgent {
			// The person confirms an agent's filing knowing the agent is
			// never sent their data: a copy to a third party is theirs to ask.
			errs.Add("recipient_email", Fault(FieldAgentRecipient))
		} else if f.RecipientEmail = checkEmail(errs, "recipient_email", rcpt); f.RecipientEmail != "" && f.RecipientEmail == f.Email {
			errs.Add("recipient_email", Fault(FieldRecipientIsOwn))
		}
	}
	f.Correction = parseCorrection(errs, in, f)
	parent := in.String(errs, "parent_email")
	switch {
	case f.Relationship == RelationshipParent:
		if f.Type != RightErasure && f.Type != RightAccess && f.Type != "" {
			errs.Add("type", Fault(FieldParentTypes))
		}
		if f.ParentEmail = checkEmail(errs, "parent_email", parent); f.ParentEmail != "" && f.ParentEmail == f.Email {
			errs.Add("parent_email", Fault(FieldParentIsChild))
		}
	case parent != "" && !errs.Has("relationship"):
		errs.Add("parent_email", OnlyWithRelationship(RelationshipParent))
	}
	agent := in.String(errs, "agent_email")
	switch {
	case f.Relationship == RelationshipAgent:
		if f.AgentEmail = checkEmail(errs, "agent_email", agent); f.AgentEmail != "" && f.AgentEmail == f.Email {
			errs.Add("agent_email", Fault(FieldAgentIsPerson))
		}
	case agent != "" && !errs.Has("relationship"):
		errs.Add("agent_email", OnlyWithRelationship(RelationshipAgent))
	}
	if f.Type == RightRectification && f.Correction.Field == "" && !errs.Has("details") && !errs.Has("field") &&
		strings.TrimSpace(f.Details) == "" {
		errs.Add("details", Fault(FieldDetailsRequired))
	}
	if err := errs.Err(); err != nil {
		return RightsRequestForm{}, err
	}
	return f, nil
}

// AddCalendarMonths adds n months the way a legal "month" runs: to the same
// day of the month, or to the month's last day when it has no such day
// (31 January + 1 month = 28 or 29 February), at the same time of day.
func AddCalendarMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// DueAt is the reply deadline for a request received at t: one calendar
// month under the GDPR (Art. 12(3)), 45 days under the CCPA.
func DueAt(regulation string, received time.Time) time.Time {
	if regulation == RegulationCCPA {
		return received.AddDate(0, 0, 45)
	}
	return AddCalendarMonths(received, 1)
}

// ErasureDays is the policy's own deadline for removal (§7: "If
// requested to remove data, we will respond within 30 days").
const ErasureDays = 30

// SiteDueAt is the deadline the site promises for a request of type typ
// received at t: the law's (DueAt), and for an erasure the shorter of
// that and the policy's 30 days (a February month is shorter).
func SiteDueAt(regulation string, typ Right, received time.Time) time.Time {
	due := DueAt(regulation, received)
	if typ == RightErasure {
		if policy := received.AddDate(0, 0, ErasureDays); policy.Before(due) {
			return policy
		}
	}
	return due
}

// ExtendedDue is the furthest an extension may move a deadline: two more
// months under the GDPR, 45 more days under the CCPA. An extension always
// needs a recorded reason and an email to the requester.
func ExtendedDue(regulation string, due time.Time) time.Time {
	if regulation == RegulationCCPA {
		return due.AddDate(0, 0, 45)
	}
	return AddCalendarMonths(due, 2)
}

// parseCorrection reads a rectification's field and value: both or
// neither, the value valid for its field (and, for the address, another
// address than the request's).
func parseCorrection(errs FieldErrors, in Input, f RightsRequestForm) Correction {
	field, value := in.String(errs, "field"), in.String(errs, "value")
	if field == "" && value == "" {
		return Correction{}
	}
	if f.Type != RightRectification {
		if f.Type != "" {
			errs.Add("field", Fault(FieldOnlyRectification))
		}
		return Correction{}
	}
	c := Correction{Field: oneOf(errs, "field", field, []string{FieldName, FieldCompany, FieldPhone, FieldEmail}, "")}
	if field == "" {
		errs.Add("field", Fault(FieldCorrectionField))
	}
	switch c.Field {
	case FieldName:
		c.Value = singleLine(errs, "value", value, true, MaxName)
	case FieldCompany:
		c.Value = singleLine(errs, "value", value, true, MaxCompany)
	case FieldPhone:
		if c.Value = singleLine(errs, "value", value, true, MaxPhone); c.Value != "" && !validPhone(c.Value) {
			errs.Add("value", Fault(FieldInvalidPhone))
		}
	case FieldEmail:
		if c.Value = checkEmail(errs, "value", value); c.Value != "" && c.Value == f.Email {
			errs.Add("value", Fault(FieldSameAddress))
		}
	}
	return c
}
