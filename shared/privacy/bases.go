package privacy

import (
	"fmt"
	"maps"
	"slices"
)

// Bases are the legal basis (GDPR Art. 6(1)) a policy version states for
// each purpose of the Sites. They are data of the version: what the
// records, receipts and pages say is what the version in force says, so
// a policy that changes a basis changes what people are told.
type Bases map[string]string

// StatedPurposes are the purposes a policy version states a basis for:
// answering what people write, and the newsletter. (Privacy requests are
// answered, and their proof kept, under a legal obligation that no policy
// changes.)
func StatedPurposes() []string { return []string{PurposeRespondToInquiry, PurposeMarketing} }

// LegalBases are the bases a version may state (the policy's section 4).
func LegalBases() []string {
	return []string{BasisLegitimateInterest, BasisConsent, BasisContract, BasisLegalObligation}
}

// DefaultBases are those of the policy as this system first publishes it
// (section 4): legitimate interest for answering questions, and for
// marketing email with an opt-out in every email ("We use our legitimate
// organizational interest as the legal basis for communications by
// email"). The double opt-in stays: it proves the address, it is not the
// basis.
func DefaultBases() Bases {
	return Bases{PurposeRespondToInquiry: BasisLegitimateInterest, PurposeMarketing: BasisLegitimateInterest}
}

// Of is the basis stated for purpose: b's own, else the default (a
// version published before bases were data stated the defaults).
func (b Bases) Of(purpose string) string {
	if v := b[purpose]; v != "" {
		return v
	}
	return DefaultBases()[purpose]
}

// Complete is b with every stated purpose's basis filled in.
func (b Bases) Complete() Bases {
	out := make(Bases, len(StatedPurposes()))
	for _, p := range StatedPurposes() {
		out[p] = b.Of(p)
	}
	return out
}

// Check refuses a purpose the policy does not state a basis for, and a
// basis that is not one of LegalBases.
func (b Bases) Check() error {
	for _, p := range slices.Sorted(maps.Keys(b)) {
		switch {
		case !slices.Contains(StatedPurposes(), p):
			return fmt.Errorf("purpose %q is not one a policy version states a basis for (%v)", p, StatedPurposes())
		case !slices.Contains(LegalBases(), b[p]):
			return fmt.Errorf("basis %q of %s is not a legal basis (%v)", b[p], p, LegalBases())
		}
	}
	return nil
}

// Basis is the legal basis v states for purpose.
func (v PolicyVersion) Basis(purpose string) string { return v.Bases.Of(purpose) }
