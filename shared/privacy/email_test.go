package privacy

import "testing"

// The address corpus of the intake: what SES cannot deliver to, or what
// hides text, is refused; an internationalised domain is kept in the
// punycode form SES sends to, so nothing is accepted and then dropped.
func TestAddressCorpus(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" = refused
	}{
		{"plain", "ann@example.com", "ann@example.com"},
		{"trimmed and lower-cased", "  Ann@Example.COM ", "ann@example.com"},
		{"IDN domain to punycode", "zoe@bücher.example", "zoe@xn--bcher-kva.example"},
		{"IDN domain upper-case", "zoe@BÜCHER.example", "zoe@xn--bcher-kva.example"},
		{"punycode domain as given", "zoe@xn--bcher-kva.example", "zoe@xn--bcher-kva.example"},
		{"plus address", "ann+news@example.com", "ann+news@example.com"},
		{"non-ASCII local part", "zoë@bücher.example", ""},
		{"non-ASCII local part, ASCII domain", "zoë@example.com", ""},
		{"zero-width space in local part", "ann\u200b@example.com", ""},
		{"zero-width space in domain", "ann@exa\u200bmple.com", ""},
		{"right-to-left override", "ann\u202e@example.com", ""},
		{"byte-order mark", "\ufeffann@example.com", ""},
		{"line separator", "ann@example.com\u2028", ""},
		{"paragraph separator", "ann\u2029@example.com", ""},
		{"address literal IPv4", "a@[192.0.2.1]", ""},
		{"address literal IPv6", "a@[IPv6:2001:db8::1]", ""},
		{"forged punycode", "ann@xn--zz.example", ""},
		{"label starting with a hyphen", "ann@-example.com", ""},
		{"underscore in domain", "ann@ex_ample.com", ""},
		{"port", "ann@example.com:25", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := FieldErrors{}
			got := checkEmail(errs, "email", tt.in)
			if tt.want == "" {
				if !errs.Has("email") {
					t.Fatalf("%q accepted as %q", tt.in, got)
				}
				return
			}
			if errs.Has("email") || got != tt.want {
				t.Fatalf("%q: %q (%v), want %q", tt.in, got, errs["email"], tt.want)
			}
		})
	}
}

// The same person written with a Unicode or a punycode domain is one
// subject.
func TestIDNIsOneSubject(t *testing.T) {
	h, err := NewHasher([]byte("pepper-0123456789-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Subject("zoe@bücher.example") != h.Subject("ZOE@xn--bcher-kva.example") {
		t.Fatal("an IDN and its punycode are two subjects")
	}
}

// Every single-line field refuses characters that hide or reorder text.
func TestSingleLineRefusesFormatCharacters(t *testing.T) {
	for _, r := range []string{"\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u2028", "\u2029", "\u00ad"} {
		for _, field := range []string{"name", "company"} {
			_, err := ParseContact(with(field, "Ann"+r+"Lee"))
			if v, ok := AsValidation(err); !ok || !v.Fields.Has(field) {
				t.Errorf("%s with %U: %v", field, []rune(r)[0], err)
			}
		}
		if _, err := ParseRightsRequest(Input{"email": "a@example.com", "type": "access", "name": "A" + r}); err == nil {
			t.Errorf("rights request name with %U accepted", []rune(r)[0])
		}
		if _, err := ParseSignup(Input{"email": "a@example.com", "topics": []any{"newsletter"}, "consent": true, "name": "A" + r}); err == nil {
			t.Errorf("signup name with %U accepted", []rune(r)[0])
		}
	}
	if _, err := ParseSignup(Input{"email": "a@example.com", "topics": []any{"newsletter"}, "consent": true, "name": "Ann"}); err != nil {
		t.Fatalf("the signup of the cases above must be valid but for its name: %v", err)
	}
	// Ordinary accented and non-Latin names stay welcome.
	for _, name := range []string{"Zoë Ærø", "Łukasz Żółć", "محمد", "山田太郎"} {
		if _, err := ParseContact(with("name", name)); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
}
