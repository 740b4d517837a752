package ropa

import (
	"slices"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// The record cannot drift from the code: every retention class is kept by
// exactly one activity, every purpose the policy states (and the privacy
// requests) has one, every source of privacy.Sources is named.
func TestRecordCoversTheCode(t *testing.T) {
	r, err := Build("Example", "privacy@example.com", "eu-west-1", privacy.InitialPolicy("2018-07-10"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]int{}
	var purposes, sources []string
	for _, a := range r.Activities {
		purposes = append(purposes, a.Purpose)
		sources = append(sources, a.Sources...)
		for _, c := range a.Retention {
			kept[c.Record]++
		}
		if len(a.People) == 0 || len(a.Data) == 0 || len(a.Recipients) == 0 || a.LegalBasis == "" || a.Storage == "" {
			t.Errorf("%s: an Art. 30 field is empty: %+v", a.Purpose, a)
		}
	}
	for _, c := range privacy.RetentionClasses() {
		if kept[c.Name] != 1 {
			t.Errorf("retention class %s is kept by %d activities, want 1 (add it to its activity in ropa.go)", c.Name, kept[c.Name])
		}
	}
	for _, p := range append(privacy.StatedPurposes(), privacy.PurposePrivacyRequests) {
		if !slices.Contains(purposes, p) {
			t.Errorf("purpose %s has no activity", p)
		}
	}
	for _, s := range privacy.Sources() {
		if !slices.Contains(sources, s) {
			t.Errorf("source %q is named by no activity", s)
		}
	}
}

// The bases are the policy version's; the processors registered are
// recipients.
func TestRecordSaysWhatThePolicySays(t *testing.T) {
	v := privacy.PolicyVersion{Version: "v9", Bases: privacy.Bases{privacy.PurposeMarketing: privacy.BasisConsent}}
	r, err := Build("Example", "privacy@example.com", "eu-west-1", v, []privacy.Processor{{Name: "Mailer Inc"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range r.Activities {
		got[a.Purpose] = a.LegalBasis
		if a.Role == "controller" && !slices.Contains(a.Recipients, "Mailer Inc (a processor, told of erasures)") {
			t.Errorf("%s: the registered processor is not a recipient: %v", a.Purpose, a.Recipients)
		}
	}
	for p, want := range map[string]string{privacy.PurposeMarketing: privacy.BasisConsent,
		privacy.PurposeRespondToInquiry: privacy.BasisLegitimateInterest, privacy.PurposePrivacyRequests: privacy.BasisLegalObligation} {
		if got[p] != want {
			t.Errorf("%s on %q, want %q", p, got[p], want)
		}
	}
	if r.PolicyVersion != "v9" {
		t.Errorf("policy version %q", r.PolicyVersion)
	}
}
