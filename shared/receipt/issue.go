package receipt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Issuer builds and signs the receipts of the company's acts.
type Issuer struct {
	Signer     *Signer
	Controller Controller
	PolicyURL  string
	Now        func() time.Time
}

// Confirmed is the receipt of a confirmed double opt-in: what the person
// agreed to (each topic, for the marketing purpose, on the basis the
// policy stated when it was confirmed), the
// consent sentence the signup showed (its version, hash and words; the
// contact form's box has its own), the form it came from, and the ledger entry of the
// confirmation (subscription_confirmed).
func (i Issuer) Confirmed(sub privacy.Subscription) (string, error) {
	if sub.ConfirmedAt.IsZero() {
		return "", fmt.Errorf("receipt: subscription not confirmed")
	}
	r := i.base(ConsentGiven, sub.Lang, sub.Email, sub.PolicyVersion, sub.ConfirmedAt,
		LedgerEntry{Event: "subscription_confirmed", At: LedgerTime(sub.ConfirmedAt), Ref: sub.SignupID},
		ID(string(sub.Subject), ConsentGiven, sub.SignupID))
	r.CollectionMethod = "website signup form; double opt-in, confirmed with the link emailed to the address"
	if sub.Source == privacy.SourceContactForm {
		r.CollectionMethod = "the newsletter box of the website's contact form; double opt-in, confirmed with the link emailed to the address"
	}
	r.Services = marketing(sub.Topics, sub.Name != "", basisOf(sub))
	// A signup stored before receipts names no sentence: its receipt
	// claims none rather than guess.
	if sub.ConsentVersion != "" {
		text, ok := privacy.ConsentTexts()[sub.ConsentVersion]
		if !ok {
			return "", fmt.Errorf("receipt: consent text %q unknown", sub.ConsentVersion)
		}
		sum := sha256.Sum256([]byte(text))
		r.ConsentText = &ConsentText{Version: sub.ConsentVersion, SHA256: hex.EncodeToString(sum[:]), Text: text}
	}
	return i.Signer.Sign(r)
}

// Withdrawn is the receipt of a withdrawal of consent (an unsubscribe,
// the preferences page with nothing left, or a rights request): every
// topic off, and the ledger entry of it (unsubscribed).
func (i Issuer) Withdrawn(sub privacy.Subscription) (string, error) {
	if sub.UnsubscribedAt.IsZero() {
		return "", fmt.Errorf("receipt: subscription not withdrawn")
	}
	r := i.base(ConsentWithdrawn, sub.Lang, sub.Email, sub.PolicyVersion, sub.UnsubscribedAt,
		LedgerEntry{Event: "unsubscribed", At: LedgerTime(sub.UnsubscribedAt)},
		ID(string(sub.Subject), ConsentWithdrawn, LedgerTime(sub.UnsubscribedAt)))
	r.CollectionMethod = "unsubscribe link, email to the unsubscribe address, preferences page or privacy request"
	r.Services = marketing(privacy.Topics(), sub.Name != "", basisOf(sub))
	for s := range r.Services {
		r.Services[s].Purposes[0].Termination = "withdrawn: no marketing is sent; the subscription is deleted within 30 days, " +
			"and a one-way code of the address is kept so that none is sent by mistake"
	}
	return i.Signer.Sign(r)
}

// Erased is the receipt of a completed erasure: what was erased, what is
// kept and why, the service providers told, and the ledger entry of it
// (erased).
func (i Issuer) Erased(req privacy.RightsRequest) (string, error) {
	if req.CompletedAt.IsZero() || req.Withheld {
		return "", fmt.Errorf("receipt: request %s is not a completed erasure", req.ID)
	}
	r := i.base(ErasureCompleted, req.Lang, req.Email, req.PolicyVersion, req.CompletedAt,
		LedgerEntry{Event: "erased", At: LedgerTime(req.CompletedAt), Ref: req.ID}, ID(string(req.Subject), ErasureCompleted, req.ID))
	r.CollectionMethod = "privacy request, the address proven with the link emailed to it"
	if req.Regulation == privacy.RegulationCCPA {
		r.Jurisdiction = "US-CA (CCPA)"
	}
	r.Services = []Service{}
	kept := privacy.Retention().CompletedRequest
	e := &Erasure{RequestID: req.ID, ItemsFound: req.ResultsCount, Erased: privacy.ErasedCategories(), Kept: []Kept{
		{What: "suppression code", Why: "a one-way code made from the address (it cannot be turned back into it), so that we never send it marketing by mistake"},
		{What: "this request's record, without the address", Why: kept.Why,
			Until: req.CompletedAt.AddDate(0, 0, kept.Days).UTC().Format(time.DateOnly)},
	}}
	for _, t := range req.RecipientsTold() {
		e.Recipients = append(e.Recipients, Recipient{Name: t.Name, Status: t.Status})
	}
	r.Erasure = e
	return i.Signer.Sign(r)
}

func (i Issuer) base(event, lang, principal, policyVersion string, at time.Time, l LedgerEntry, id string) Receipt {
	return Receipt{Version: Version, ID: id, Event: event, IssuedAt: i.Now().Unix(), Timestamp: at.Unix(),
		Jurisdiction: "EU (GDPR)", Language: privacy.Language(lang), Principal: principal, Controllers: []Controller{i.Controller},
		PolicyURL: i.PolicyURL, PolicyVersion: policyVersion, SPICat: []string{}, Ledger: l}
}

// basisOf is the legal basis sub was confirmed on, as the policy version
// in force then stated it; a subscription confirmed before bases were
// data was recorded on consent.
func basisOf(sub privacy.Subscription) string {
	if sub.LegalBasis == "" {
		return privacy.BasisConsent
	}
	return sub.LegalBasis
}

// marketing is the newsletter's services: one per topic, each for the
// marketing purpose on basis (the opt-in is explicit whatever the basis:
// the double opt-in proves it).
func marketing(topics []string, named bool, basis string) []Service {
	pii := []string{"email address"}
	if named {
		pii = append(pii, "name")
	}
	out := make([]Service, 0, len(topics))
	for _, t := range topics {
		out = append(out, Service{Service: "newsletter: " + t, Purposes: []Purpose{{
			Purpose: privacy.PurposeMarketing, PurposeCategory: []string{"direct marketing"}, ConsentType: "EXPLICIT",
			LegalBasis: basis, PIICategory: pii, PrimaryPurpose: true,
			Termination: "until withdrawn, with the unsubscribe link in every email", ThirdPartyDisclosure: false,
		}}})
	}
	return out
}
