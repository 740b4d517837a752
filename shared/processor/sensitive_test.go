package processor

import (
	"encoding/json"
	"testing"
)

func TestCheckSensitive(t *testing.T) {
	tests := []struct {
		name  string
		attrs string
		extra []string
		want  Finding // zero: nothing found
	}{
		{"a Visa test number", `{"note":"paid with 4111 1111 1111 1111"}`, nil, Finding{"attributes.note", KindCard}},
		{"a card as a number", `{"billing":{"cards":[1,5555555555554444]}}`, nil, Finding{"attributes.billing.cards[1]", KindCard}},
		{"a card with hyphens", `{"c":"3782-822463-10005"}`, nil, Finding{"attributes.c", KindCard}},
		{"16 digits failing Luhn", `{"order":"4111111111111112"}`, nil, Finding{}},
		{"a card's digits inside a longer id", `{"id":"41111111111111110000000"}`, nil, Finding{}},
		{"all zeros", `{"id":"0000000000000000"}`, nil, Finding{}},
		{"a dashed SSN", `{"profile":{"tax":"SSN 078-05-1120 on file"}}`, nil, Finding{"attributes.profile.tax", KindSSN}},
		{"an SSN by key, undashed", `{"ssn":"078051120"}`, nil, Finding{"attributes.ssn", KindSSN}},
		{"an impossible SSN area", `{"x":"666-12-3456"}`, nil, Finding{}},
		{"a phone-like number is no SSN", `{"phone":"+1 415-555-0100"}`, nil, Finding{}},
		{"a password", `{"account":{"Password":"hunter2"}}`, nil, Finding{"attributes.account.Password", KindCredential}},
		{"an api key", `{"api_key":"abc"}`, nil, Finding{"attributes.api_key", KindCredential}},
		{"a client secret in a list", `{"apps":[{"name":"x"},{"client-secret":"s"}]}`, nil, Finding{"attributes.apps[1].client-secret", KindCredential}},
		{"an empty password field discloses nothing", `{"password":""}`, nil, Finding{}},
		{"a controller's own key", `{"loyalty":{"Mother_Maiden_Name":"x"}}`, []string{"mother maiden name"}, Finding{"attributes.loyalty.Mother_Maiden_Name", KindKeyName}},
		{"the controller's key absent", `{"loyalty":{"tier":"gold"}}`, []string{"mother_maiden_name"}, Finding{}},
		{"an advertising token is no credential", `{"push_token":"abc","ad_token":"def"}`, nil, Finding{}},
		{"sorted order decides the first", `{"z":"4111111111111111","a":{"password":"p"}}`, nil, Finding{"attributes.a.password", KindCredential}},
		{"a name given twice", `{"note":"4111 1111 1111 1111","note":"ok"}`, nil, Finding{"attributes.note", KindDuplicateName}},
		{"a name given twice, nested", `{"login":{"password":"hunter2","password":""}}`, nil, Finding{"attributes.login.password", KindDuplicateName}},
		{"a card as a number with an exponent", `{"card":4.111111111111111e15}`, nil, Finding{"attributes.card", KindCard}},
		{"a card as a name, named by its position", `{"a":1,"4111 1111 1111 1111":"visa"}`, nil, Finding{"attributes.<name 1>", KindCard}},
		{"a path through a card as a name", `{"4111 1111 1111 1111":{"password":"x"}}`, nil, Finding{"attributes.<name 0>", KindCard}},
		{"a card with dots", `{"card":"4111.1111.1111.1111"}`, nil, Finding{"attributes.card", KindCard}},
		{"a card with no-break spaces", `{"card":"4111\u00a01111\u00a01111\u00a01111"}`, nil, Finding{"attributes.card", KindCard}},
		{"a card with zero-width spaces", `{"card":"4111\u200b1111\u200b1111\u200b1111"}`, nil, Finding{"attributes.card", KindCard}},
		{"a card in full-width digits", `{"card":"\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"}`, nil, Finding{"attributes.card", KindCard}},
		{"a card in Arabic-Indic digits", `{"card":"\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661"}`, nil, Finding{"attributes.card", KindCard}},
		{"a price is no card", `{"total":1234.5678901234567}`, nil, Finding{}},
		{"a spaced SSN", `{"note":"SSN 078 05 1120"}`, nil, Finding{"attributes.note", KindSSN}},
		{"a spaced phone number is no SSN", `{"phone":"+44 20 123 45 6789"}`, nil, Finding{}},
		{"an SSN under tax_id", `{"tax_id":"078051120"}`, nil, Finding{"attributes.tax_id", KindSSN}},
		{"a VAT number under tax_id", `{"tax_id":"DE123456789"}`, nil, Finding{}},
		{"an SSN under social_security_num", `{"social_security_num":"x"}`, nil, Finding{"attributes.social_security_num", KindSSN}},
		{"pwd", `{"login":{"pwd":"hunter2"}}`, nil, Finding{"attributes.login.pwd", KindCredential}},
		{"pass", `{"login":{"pass":"hunter2"}}`, nil, Finding{"attributes.login.pass", KindCredential}},
		{"a passport is no password", `{"passport_country":"FR"}`, nil, Finding{}},
		{"Passwort", `{"Passwort":"hunter2"}`, nil, Finding{"attributes.Passwort", KindCredential}},
		{"contraseña", `{"contrase\u00f1a":"hunter2"}`, nil, Finding{"attributes.contrase\u00f1a", KindCredential}},
		{"mot de passe", `{"mot_de_passe":"hunter2"}`, nil, Finding{"attributes.mot_de_passe", KindCredential}},
		{"a zero-width space in the name", `{"pass\u200bword":"hunter2"}`, nil, Finding{"attributes.pass\u200bword", KindCredential}},
		{"ordinary attributes", `{"plan":"pro","visits":12,"tags":["a","b"],"ok":true,"none":null}`, nil, Finding{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found := CheckSensitive(json.RawMessage(tc.attrs), tc.extra)
			if found != (tc.want != Finding{}) || got != tc.want {
				t.Fatalf("CheckSensitive(%s) = %+v, %v; want %+v", tc.attrs, got, found, tc.want)
			}
		})
	}
}

func TestParseSensitiveKeys(t *testing.T) {
	tests := []struct {
		names []string
		want  int // -1: refused
	}{
		{[]string{"mother_maiden_name", "Mother Maiden Name", "pin"}, 2},
		{[]string{""}, -1},
		{[]string{"bad\nname"}, -1},
		{[]string{"___"}, -1},
		{make([]string, MaxSensitiveKeys+1), -1},
	}
	for _, tc := range tests {
		got, err := ParseSensitiveKeys(tc.names)
		if (err != nil) != (tc.want < 0) || err == nil && len(got) != tc.want {
			t.Errorf("ParseSensitiveKeys(%q) = %q, %v; want %d", tc.names, got, err, tc.want)
		}
	}
}
