package privacy

import (
	"strings"
	"testing"
)

// A campaign reaches every subscriber: its subject is one line and
// neither holds what hides or reorders text (the fourth review's bidi
// override and tag characters).
func TestValidCampaign(t *testing.T) {
	ok := CampaignPlan{ID: "c-1", Topic: "newsletter", Subject: "News of December", Body: "Hello ❤️\n\nWhat is new."}
	for _, tc := range []struct {
		name  string
		edit  func(*CampaignPlan)
		field string // "" when valid
	}{
		{"valid", func(*CampaignPlan) {}, ""},
		{"no id", func(p *CampaignPlan) { p.ID = "" }, "campaign_id"},
		{"unknown topic", func(p *CampaignPlan) { p.Topic = "spam" }, "topic"},
		{"bidi override in the subject", func(p *CampaignPlan) { p.Subject = "Your invoice \u202efdp.exe\u202c" }, "subject"},
		{"two lines of subject", func(p *CampaignPlan) { p.Subject = "Hi\nthere" }, "subject"},
		{"tag characters in the body", func(p *CampaignPlan) { p.Body = "Open it.\U000E0041\U000E0042" }, "body"},
		{"zero-width space in the body", func(p *CampaignPlan) { p.Body = "Click\u200bhere" }, "body"},
		{"a subject too long", func(p *CampaignPlan) { p.Subject = strings.Repeat("a", MaxCampaignSubject+1) }, "subject"},
		// Translations (#34 item 7) are checked as the default text is.
		{"a German translation", func(p *CampaignPlan) {
			p.Translations = map[string]CampaignText{"de": {Subject: "Neues im Dezember", Body: "Hallo ❤️"}}
		}, ""},
		{"a translation into the default language", func(p *CampaignPlan) {
			p.Translations = map[string]CampaignText{"en": {Subject: "s", Body: "b"}}
		}, "translations"},
		{"a translation into a language of no email", func(p *CampaignPlan) {
			p.Translations = map[string]CampaignText{"xx": {Subject: "s", Body: "b"}}
		}, "translations"},
		{"a translation without its body", func(p *CampaignPlan) {
			p.Translations = map[string]CampaignText{"fr": {Subject: "Nouvelles"}}
		}, "translations.fr.body"},
		{"bidi override in a translated subject", func(p *CampaignPlan) {
			p.Translations = map[string]CampaignText{"de": {Subject: "Rechnung \u202efdp.exe", Body: "b"}}
		}, "translations.de.subject"},
	} {
		p := ok
		tc.edit(&p)
		err := ValidCampaign(p)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field)):
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
}
