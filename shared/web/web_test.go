package web

import (
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{"", "en"},
		{"en-GB,en;q=0.9", "en"},
		{"fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5", "fr"},
		{"de-AT", "de"},
		{"it, de;q=0.5, fr;q=0.7", "fr"},
		{"es, pt;q=0.9", "en"}, // none we have: English
		{"xx", "en"},
		{"en;q=0", "en"},
		{"de;q=0, fr;q=0.1", "fr"},
	} {
		if got := Negotiate(tc.header).Code; got != tc.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

// keyUse finds the catalog keys the code and templates name literally.
var keyUse = regexp.MustCompile(`(?:T|Message\([^,]+,[^,]+,|Key:|Legend:|SecondButton:|Label:)\s*"([a-z_]+(?:\.[a-z_]+)+)"`)

// Every key named in a template or in Go code exists in the English
// catalog, with the .title/.body/.button a page or message needs; every
// other language has exactly the English keys.
func TestCatalogComplete(t *testing.T) {
	en := Lang{Code: "en"}
	var sources []string
	for _, dir := range []string{"templates", "../forms", "../preferences", "../rights", "../httpapi"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.*"))
		sources = append(sources, files...)
	}
	used := 0
	for _, f := range sources {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			used++
			key := m[1]
			switch {
			case strings.HasPrefix(m[0], "Message"):
				for _, k := range []string{key + ".title", key + ".body"} {
					if !en.Has(k) {
						t.Errorf("%s: no %q", f, k)
					}
				}
			case strings.HasPrefix(m[0], "Key:"):
				for _, k := range []string{key + ".title", key + ".body", key + ".button"} {
					if !en.Has(k) {
						t.Errorf("%s: no %q", f, k)
					}
				}
			default:
				if !en.Has(key) && !strings.HasSuffix(key, ".") {
					t.Errorf("%s: no %q", f, key)
				}
			}
		}
	}
	if used < 50 {
		t.Fatalf("found only %d key uses: the pattern no longer matches the code", used)
	}
	want := append([]string(nil), privacy.Languages()...)
	sort.Strings(want)
	if strings.Join(Languages(), ",") != strings.Join(want, ",") {
		t.Errorf("catalogs %v, the site's languages %v", Languages(), want)
	}
	for _, code := range Languages() {
		if strings.Join(Keys(code), ",") != strings.Join(Keys("en"), ",") {
			t.Errorf("catalog %s does not have exactly the English keys", code)
		}
	}
}

// A page shows no catalog key in place of text, escapes what people typed,
// and loads nothing but its own files.
func TestRenderPages(t *testing.T) {
	for _, code := range Languages() {
		t.Run(code, func(t *testing.T) { renderPages(t, code) })
	}
}

func renderPages(t *testing.T, code string) {
	c := NewCenter(code)
	c.Contact = Form{Values: map[string][]string{"name": {`<script>alert(1)</script>`}, "topic": {"demo"}},
		Errors: map[string]string{"email": "must be a valid email address"}, Focus: true}
	pages := []Page{
		{Name: "center", Data: c},
		{Name: "message", Data: struct {
			Paragraphs []string
			Next       string
		}{[]string{"Hello"}, "Back"}},
		{Name: "status", Data: struct {
			Type, StatusKey, Received, Due, Extended, Completed, Reason, ResultsURL string
			Told                                                                    []privacy.Told
		}{"erasure", "status.pending", "2026-11-29", "2026-12-29", "", "", "", "",
			[]privacy.Told{{Name: "Our platform", Status: "asked; their erasure is under way"}}}},
		{Name: "export", Data: struct{ Until, Read, CSV, JSON string }{"2026-12-06", "/x?format=html", "/x?format=csv", "/x?format=json"}},
		{Name: "copy", Data: struct {
			Controller, RequestID, GeneratedAt string
			Groups                             []struct {
				Purpose string
				Records []struct {
					Kind   string
					Fields []struct{ Name, Value string }
				}
			}
			Events, Requests [][]string
			Suppression      []string
			Processing       []struct{ Record, Retention, Why string }
			Purposes         []struct{ Purpose, LegalBasis string }
			Recipients       []string
		}{Controller: "Example", RequestID: "r-1", GeneratedAt: "2026-12-01T00:00:00Z",
			Groups: []struct {
				Purpose string
				Records []struct {
					Kind   string
					Fields []struct{ Name, Value string }
				}
			}{{Purpose: "respond_to_inquiry", Records: []struct {
				Kind   string
				Fields []struct{ Name, Value string }
			}{{Kind: "inquiry", Fields: []struct{ Name, Value string }{{"message", `<script>alert(1)</script>`}}}}}},
			Events:      [][]string{{"2026-11-01T00:00:00Z", "inquiry_received", "respond_to_inquiry", "legitimate_interest", "v1"}},
			Requests:    [][]string{{"r-1", "access", "completed", "2026-11-30", "2026-12-01"}},
			Suppression: []string{"unsubscribed"},
			Processing:  []struct{ Record, Retention, Why string }{{"inquiry", "24 months", "to answer you"}},
			Purposes: []struct{ Purpose, LegalBasis string }{{privacy.PurposeMarketing, privacy.BasisConsent},
				{privacy.PurposePrivacyRequests, privacy.BasisLegalObligation}},
			Recipients: []string{"Amazon Web Services"}}},
	}
	leftover := regexp.MustCompile(`\b(?:site|center|contact|newsletter|rights|status|export|copy|suppression|error|topic|basis|purpose)\.[a-z_]+\b`)
	for _, p := range pages {
		p.Lang, p.Title, p.Site = Lang{Code: code}, "Title", Site{PolicyURL: "https://example.com/privacy", PolicyVersion: "v1",
			PolicyUpdated: "2026-12-01"}
		html, err := Render(p)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if m := leftover.FindString(strings.ReplaceAll(html, "/privacy/assets/site.", "")); m != "" {
			t.Errorf("%s shows the key %q", p.Name, m)
		}
		if strings.Contains(html, "<script>alert") || strings.Contains(html, "style=") || strings.Contains(html, "http://") {
			t.Errorf("%s: unescaped input, inline style or a foreign http URL", p.Name)
		}
	}
	html, _ := Render(Page{Lang: Lang{Code: code}, Name: "center", Data: c})
	_, consent := privacy.Consent(privacy.SourceSignupForm, code)
	_, optIn := privacy.Consent(privacy.SourceContactForm, code)
	for _, want := range []string{`<html lang="` + code + `">`, template.HTMLEscapeString(consent), template.HTMLEscapeString(optIn), `id="contact-email" name="email" type="email" value="" autocomplete="email" required aria-invalid="true" aria-describedby="contact-email-error"`,
		`<option value="demo" selected>`, "data-focus", `<label for="contact-name">`} {
		if !strings.Contains(html, want) {
			t.Errorf("center page lacks %q", want)
		}
	}
}

// Pages are parsed when first rendered, not at start: every page of every
// language must parse.
func TestEveryPageParses(t *testing.T) {
	for code, byName := range pages {
		if len(byName) == 0 {
			t.Fatalf("%s has no pages", code)
		}
		for name, parsed := range byName {
			if _, err := parsed(); err != nil {
				t.Errorf("%s %s: %v", code, name, err)
			}
		}
	}
}

// Every field code has its message in every language, written in that
// language's own catalog (not English's as a fallback), naming the same
// {params} as the English one; a code with no message would show as its
// key.
func TestEveryFieldCodeInEveryLanguage(t *testing.T) {
	placeholder := regexp.MustCompile(`\{[a-z_]+\}`)
	for _, code := range privacy.FieldCodes() {
		key := "field." + string(code)
		en, ok := catalogs[DefaultLang][key]
		if !ok {
			t.Errorf("en has no message for %s", code)
			continue
		}
		want := placeholder.FindAllString(en, -1)
		sort.Strings(want)
		for _, lang := range Languages() {
			msg, ok := catalogs[lang][key]
			if !ok {
				t.Errorf("%s has no message for %s", lang, code)
				continue
			}
			got := placeholder.FindAllString(msg, -1)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s names %v, English %v", lang, code, got, want)
			}
		}
	}
}

// Every field error the forms and handlers give reads in each language:
// the parsers are run on wrong input of every kind, and each error is
// rendered with its params filled in, from a code privacy.FieldCodes lists.
func TestFieldErrorsRendered(t *testing.T) {
	long := strings.Repeat("x", 6000)
	inputs := []privacy.Input{
		{},
		{"email": "not-an-address", "name": "A\nB", "message": long, "topic": "weather", "phone": "call me", "company": "\u202e"},
		{"email": []any{"x"}, "consent": "yes", "topics": "newsletter", "name": map[string]any{"a": 1}, "message": "\x00"},
		{"email": "a@example.com", "topics": []any{"weather"}, "consent": false},
		{"email": "a@example.com", "type": "gossip", "regulation": "none", "relationship": "friend"},
		{"email": "a@example.com", "type": "access", "field": "name", "value": "Ann", "scope": "all",
			"recipient_email": "a@example.com", "parent_email": "p@example.com", "agent_email": "g@example.com", "details": string([]byte{0xff})},
		{"email": "a@example.com", "type": "rectification", "field": "email", "value": "a@example.com"},
		{"email": "a@example.com", "type": "rectification", "field": "phone", "value": "call me"},
		{"email": "a@example.com", "type": "rectification", "field": "shoe size"},
		{"email": "a@example.com", "type": "rectification"},
		{"email": "a@example.com", "type": "portability", "recipient_email": "a@example.com"},
		{"email": "a@example.com", "type": "objection", "relationship": "parent_or_guardian", "parent_email": "a@example.com"},
		{"email": "a@example.com", "type": "rectification", "relationship": "parent_or_guardian", "parent_email": "p@example.com"},
		{"email": "a@example.com", "type": "access", "relationship": "authorized_agent", "agent_email": "a@example.com"},
	}
	// And the errors other handlers give (the receipt check, the
	// preferences' topics).
	errs := []privacy.FieldError{privacy.Fault(privacy.FieldReceiptMissing), privacy.Fault(privacy.FieldReceiptTooLong),
		privacy.Fault(privacy.FieldReceiptMalformed), privacy.Fault(privacy.FieldTopicsRequired)}
	for _, in := range inputs {
		for _, parse := range []func(privacy.Input) error{
			func(in privacy.Input) error { _, err := privacy.ParseContact(in); return err },
			func(in privacy.Input) error { _, err := privacy.ParseSignup(in); return err },
			func(in privacy.Input) error { _, err := privacy.ParseRightsRequest(in); return err },
		} {
			if v, ok := privacy.AsValidation(parse(in)); ok {
				for _, e := range v.Fields {
					errs = append(errs, e)
				}
			}
		}
	}
	codes := map[privacy.FieldCode]bool{}
	for _, e := range errs {
		codes[e.Code] = true
		if !slices.Contains(privacy.FieldCodes(), e.Code) {
			t.Errorf("%s is not in privacy.FieldCodes", e.Code)
		}
		for _, lang := range Languages() {
			if msg := (Lang{Code: lang}).Field(e); strings.ContainsAny(msg, "{}") || strings.HasPrefix(msg, "field.") {
				t.Errorf("%s: %+v renders as %q", lang, e, msg)
			}
		}
	}
	t.Logf("%d distinct codes", len(codes))
	if len(codes) < 20 {
		t.Fatalf("only %d distinct codes produced: %v", len(codes), codes)
	}
	for _, tt := range []struct {
		lang string
		e    privacy.FieldError
		want string
	}{
		{"en", privacy.TooLong(254), "must be at most 254 characters"},
		{"de", privacy.TooLong(254), "darf höchstens 254 Zeichen lang sein"},
		{"fr", privacy.OneOf("access", "erasure"), "doit être l’une de ces valeurs: access, erasure"},
		{"de", privacy.OnlyWithRelationship(privacy.RelationshipAgent), "gilt nur mit der Beziehung „authorized_agent“"},
		{"en", privacy.Fault(privacy.FieldConsentRequired), "must be given to subscribe"},
	} {
		if got := (Lang{Code: tt.lang}).Field(tt.e); got != tt.want {
			t.Errorf("%s %+v: %q, want %q", tt.lang, tt.e, got, tt.want)
		}
	}
}
