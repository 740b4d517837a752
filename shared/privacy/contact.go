package privacy

import (
	"time"
)

// Contact topics a visitor can pick on the contact form.
var contactTopics = map[string]bool{
	"demo": true, "question": true, "event": true, "materials": true, "other": true,
}

// Limits of the contact form, from the API contract.
const (
	MaxName    = 200
	MaxCompany = 200
	MaxPhone   = 40
	MaxMessage = 5000
)

// ContactForm is a validated, normalised contact-form submission.
type ContactForm struct {
	Name           string
	Email          string // normalised
	Company        string
	Phone          string
	Topic          string
	Message        string
	MarketingOptIn bool
}

// ParseContact validates a contact-form submission against the contract and
// returns it normalised, or a *ValidationError naming every bad field.
func ParseContact(in Input) (ContactForm, error) {
	errs := FieldErrors{}
	f := ContactForm{
		Name:           singleLine(errs, "name", in.String(errs, "name"), true, MaxName),
		Email:          checkEmail(errs, "email", in.String(errs, "email")),
		Company:        singleLine(errs, "company", in.String(errs, "company"), false, MaxCompany),
		Phone:          singleLine(errs, "phone", in.String(errs, "phone"), false, MaxPhone),
		Topic:          singleLine(errs, "topic", in.String(errs, "topic"), false, 20),
		Message:        multiLine(errs, "message", in.String(errs, "message"), true, MaxMessage),
		MarketingOptIn: in.Bool(errs, "marketing_opt_in"),
	}
	if f.Phone != "" && !validPhone(f.Phone) {
		errs.Add("phone", Fault(FieldInvalidPhone))
	}
	if f.Topic == "" {
		f.Topic = "question"
	} else if !contactTopics[f.Topic] {
		errs.Add("topic", OneOf("demo", "question", "event", "materials", "other"))
	}
	if err := errs.Err(); err != nil {
		return ContactForm{}, err
	}
	return f, nil
}

func validPhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '+' || r == '(' || r == ')' || r == '-' || r == '.':
		default:
			return false
		}
	}
	return digits > 0
}

// RequestMeta is the pseudonymous metadata of the HTTP request that carried
// personal data. The policy counts it as personal data too; it is kept for
// a shorter time than the record it came with (see Retention).
type RequestMeta struct {
	SourceIP       string
	UserAgent      string
	AcceptLanguage string
	Referrer       string
	ReceivedAt     time.Time
}

// Legal bases for processing, as the policy's section 4 names them.
const (
	BasisLegitimateInterest = "legitimate_interest"
	BasisConsent            = "consent"
	BasisContract           = "contract"
	BasisLegalObligation    = "legal_obligation"
)

// Purposes for which data is held.
const (
	PurposeRespondToInquiry = "respond_to_inquiry"
	// PurposePrivacyRequests: answering privacy requests and keeping
	// their proof (a legal obligation, whatever the policy says).
	PurposePrivacyRequests = "privacy_requests"
)

// Inquiry is a stored contact-form submission: what the person gave, why we
// hold it, under which policy version, and where it came from.
type Inquiry struct {
	ID            string
	Subject       SubjectID
	Form          ContactForm
	Purpose       string
	LegalBasis    string
	PolicyVersion string
	// Lang is the language the form was sent in: the person's emails
	// follow it.
	Lang          string
	Meta          RequestMeta
	ExpiresAt     time.Time // when retention ends (the TTL and the sweep)
	MetaExpiresAt time.Time // when the request metadata is stripped
	// AckHeld: the sender's mailbox was past its daily limit, so the
	// inquiry is kept and the team told, but no acknowledgement is sent.
	AckHeld bool
}

// NewInquiry builds the record to store for a contact form. The policy's
// section 4 names legitimate interest as the basis for answering questions.
func NewInquiry(id string, subject SubjectID, f ContactForm, policyVersion string, meta RequestMeta) Inquiry {
	return Inquiry{
		ID:            id,
		Subject:       subject,
		Form:          f,
		Purpose:       PurposeRespondToInquiry,
		LegalBasis:    BasisLegitimateInterest,
		PolicyVersion: policyVersion,
		Meta:          meta,
		ExpiresAt:     retention.Inquiry.From(meta.ReceivedAt),
		MetaExpiresAt: retention.RequestMeta.From(meta.ReceivedAt),
	}
}
