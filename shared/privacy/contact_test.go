package privacy

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func valid() Input {
	return Input{"name": "Ann Lee", "email": "ann@example.com", "message": "Hello"}
}

func with(kv ...any) Input {
	in := valid()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(in, kv[i].(string))
			continue
		}
		in[kv[i].(string)] = kv[i+1]
	}
	return in
}

func TestParseContactRejects(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		field string
	}{
		{"missing name", with("name", nil), "name"},
		{"blank name", with("name", "   "), "name"},
		{"name with LF", with("name", "Ann\nBcc: x@y.z"), "name"},
		{"name with CR", with("name", "Ann\rLee"), "name"},
		{"name with tab", with("name", "Ann\tLee"), "name"},
		{"name too long", with("name", strings.Repeat("a", 201)), "name"},
		{"name of 201 runes", with("name", strings.Repeat("é", 201)), "name"},
		{"name a number", with("name", 42.0), "name"},
		{"name invalid UTF-8", with("name", "Ann \xff"), "name"},
		{"missing email", with("email", nil), "email"},
		{"email without at", with("email", "ann.example.com"), "email"},
		{"email with display name", with("email", "Ann <ann@example.com>"), "email"},
		{"email with LF", with("email", "ann@example.com\nBcc: x@y.z"), "email"},
		{"email without dot", with("email", "ann@localhost"), "email"},
		{"email too long", with("email", strings.Repeat("a", 250)+"@example.com"), "email"},
		{"email local part too long", with("email", strings.Repeat("a", 65)+"@example.com"), "email"},
		{"email a list", with("email", []any{"ann@example.com"}), "email"},
		{"company too long", with("company", strings.Repeat("c", 201)), "company"},
		{"company with LF", with("company", "ACME\nInc"), "company"},
		{"phone with letters", with("phone", "call me"), "phone"},
		{"phone too long", with("phone", strings.Repeat("1", 41)), "phone"},
		{"phone only punctuation", with("phone", "+()"), "phone"},
		{"unknown topic", with("topic", "sales"), "topic"},
		{"missing message", with("message", nil), "message"},
		{"blank message", with("message", " \n\t "), "message"},
		{"message too long", with("message", strings.Repeat("m", 5001)), "message"},
		{"message with NUL", with("message", "hi\x00there"), "message"},
		{"message an object", with("message", map[string]any{"a": 1.0}), "message"},
		{"opt-in a string", with("marketing_opt_in", "maybe"), "marketing_opt_in"},
		{"opt-in a number", with("marketing_opt_in", 1.0), "marketing_opt_in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseContact(tt.in)
			v, ok := AsValidation(err)
			if !ok {
				t.Fatalf("got %v, want a validation error", err)
			}
			if _, ok := v.Fields[tt.field]; !ok || len(v.Fields) != 1 {
				t.Fatalf("fields %v, want exactly %q", v.Fields, tt.field)
			}
		})
	}
}

func TestParseContactAccepts(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		check func(ContactForm) bool
	}{
		{"minimal, default topic", valid(), func(f ContactForm) bool { return f.Topic == "question" && !f.MarketingOptIn }},
		{"email normalised", with("email", "  Ann.Lee+news@Example.COM "), func(f ContactForm) bool { return f.Email == "ann.lee+news@example.com" }},
		{"unicode name of 200 runes", with("name", strings.Repeat("名", 200)), func(f ContactForm) bool { return len([]rune(f.Name)) == 200 }},
		{"name trimmed", with("name", "  Zoë Ångström  "), func(f ContactForm) bool { return f.Name == "Zoë Ångström" }},
		{"message kept as given", with("message", "  line one\r\nline\ttwo  "), func(f ContactForm) bool { return f.Message == "  line one\r\nline\ttwo  " }},
		{"message of 5000 runes", with("message", strings.Repeat("ü", 5000)), func(f ContactForm) bool { return len([]rune(f.Message)) == 5000 }},
		{"html kept as text", with("message", "<script>alert(1)</script>"), func(f ContactForm) bool { return f.Message == "<script>alert(1)</script>" }},
		{"phone", with("phone", "+44 (0)20 7946-0000."), func(f ContactForm) bool { return f.Phone == "+44 (0)20 7946-0000." }},
		{"topic demo", with("topic", "demo"), func(f ContactForm) bool { return f.Topic == "demo" }},
		{"opt-in bool", with("marketing_opt_in", true), func(f ContactForm) bool { return f.MarketingOptIn }},
		{"opt-in checkbox", with("marketing_opt_in", "on"), func(f ContactForm) bool { return f.MarketingOptIn }},
		{"null optional fields", with("company", nil, "phone", nil), func(f ContactForm) bool { return f.Company == "" && f.Phone == "" }},
		{"unknown fields ignored", with("utm_source", "x", "extra", 3.0), func(f ContactForm) bool { return f.Name == "Ann Lee" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseContact(tt.in)
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !tt.check(f) {
				t.Fatalf("unexpected form %+v", f)
			}
		})
	}
}

func TestParseContactReportsEveryField(t *testing.T) {
	_, err := ParseContact(Input{"name": "", "email": "nope", "message": "", "topic": "x"})
	v, ok := AsValidation(err)
	if !ok {
		t.Fatalf("got %v", err)
	}
	for _, f := range []string{"name", "email", "message", "topic"} {
		if !v.Fields.Has(f) {
			t.Errorf("no error for %s in %v", f, v.Fields)
		}
	}
}

func TestInputFromForm(t *testing.T) {
	in := InputFromForm(url.Values{"name": {"Ann"}, "topics": {"events", "newsletter"}, "website": {""}})
	errs := FieldErrors{}
	if in.String(errs, "name") != "Ann" || len(in.Strings(errs, "topics")) != 2 || in.Honeypot() {
		t.Fatalf("form input decoded wrong: %v", in)
	}
	if len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if !InputFromForm(url.Values{"website": {"http://spam"}}).Honeypot() {
		t.Fatal("a filled honeypot was not seen")
	}
}

func TestNewInquiryRetention(t *testing.T) {
	at := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	i := NewInquiry("id", "subj", ContactForm{}, "v1", RequestMeta{ReceivedAt: at})
	if i.LegalBasis != BasisLegitimateInterest || i.Purpose != PurposeRespondToInquiry || i.PolicyVersion != "v1" {
		t.Fatalf("inquiry %+v", i)
	}
	if want := at.AddDate(0, 0, 730); !i.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v", i.ExpiresAt, want)
	}
	if want := at.AddDate(0, 0, 90); !i.MetaExpiresAt.Equal(want) {
		t.Errorf("metadata expires %v, want %v", i.MetaExpiresAt, want)
	}
}

func TestParseSignup(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		field string // "" when valid
		want  []string
	}{
		{"default topic", Input{"email": "a@example.com", "consent": true}, "", []string{"newsletter"}},
		{"topics sorted and deduplicated", Input{"email": "a@example.com", "consent": true,
			"topics": []any{"events", "newsletter", "events"}}, "", []string{"events", "newsletter"}},
		{"form checkbox consent", Input{"email": "a@example.com", "consent": "on", "topics": []string{"product_updates"}}, "", []string{"product_updates"}},
		{"no consent", Input{"email": "a@example.com"}, "consent", nil},
		{"consent false", Input{"email": "a@example.com", "consent": false}, "consent", nil},
		{"consent a string", Input{"email": "a@example.com", "consent": "perhaps"}, "consent", nil},
		{"unknown topic", Input{"email": "a@example.com", "consent": true, "topics": []any{"sales"}}, "topics", nil},
		{"topics not a list", Input{"email": "a@example.com", "consent": true, "topics": 3.0}, "topics", nil},
		{"bad email", Input{"email": "a@", "consent": true}, "email", nil},
		{"name with LF", Input{"email": "a@example.com", "consent": true, "name": "a\nb"}, "name", nil},
	}
	for _, tt := range tests {
		s, err := ParseSignup(tt.in)
		if tt.field == "" {
			if err != nil || strings.Join(s.Topics, ",") != strings.Join(tt.want, ",") {
				t.Errorf("%s: %+v %v", tt.name, s, err)
			}
			continue
		}
		v, ok := AsValidation(err)
		if !ok || !v.Fields.Has(tt.field) {
			t.Errorf("%s: got %v, want an error on %s", tt.name, err, tt.field)
		}
	}
}
