// Package web renders the pages people see: the privacy center, the pages
// behind every email link, and the answers to plain form posts. Templates
// (html/template), the stylesheet, the script and the strings are embedded
// in the binary; every string a page shows comes from locales/<lang>.json,
// so a second language is one more file. Pages work without JavaScript;
// site.js only adds inline errors without a reload.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

//go:embed templates/*.html assets/* locales/*.json
var files embed.FS

// Site is what every page says about the site: set once at cold start.
type Site struct {
	PolicyURL     string
	PolicyVersion string
	PolicyUpdated string // the version's "Last updated" day, YYYY-MM-DD
	// Bases are the legal bases the version states (pages say them).
	Bases privacy.Bases
}

// Catalog is one language's strings by key.
type Catalog map[string]string

var (
	catalogs = map[string]Catalog{}
	// pages holds each page per language, its T bound to it, parsed the
	// first time it is rendered: a cold start parses none, a request the
	// one page it shows.
	pages = map[string]map[string]func() (*template.Template, error){}
)

// DefaultLang is the language of a page when the browser asks for none we
// have.
const DefaultLang = "en"

func init() {
	locales, err := fs.Glob(files, "locales/*.json")
	if err != nil {
		panic(err)
	}
	for _, name := range locales {
		b, err := files.ReadFile(name)
		if err != nil {
			panic(err)
		}
		c := Catalog{}
		if err := json.Unmarshal(b, &c); err != nil {
			panic(fmt.Sprintf("%s: %v", name, err))
		}
		catalogs[strings.TrimSuffix(path.Base(name), ".json")] = c
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for code := range catalogs {
		pages[code] = map[string]func() (*template.Template, error){}
		for _, name := range names {
			base := strings.TrimSuffix(path.Base(name), ".html")
			if base == "layout" {
				continue
			}
			pages[code][base] = sync.OnceValues(func() (*template.Template, error) {
				return template.New("layout.html").Funcs(funcs(Lang{Code: code})).
					ParseFS(files, "templates/layout.html", name)
			})
		}
	}
}

// Lang is the language a page is written in.
type Lang struct {
	Code string
}

// Negotiate picks the best language we have for an Accept-Language header
// (RFC 9110 quality values), or DefaultLang.
func Negotiate(acceptLanguage string) Lang {
	type choice struct {
		code string
		q    float64
	}
	var choices []choice
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := catalogs[primary]; ok && q > 0 {
			choices = append(choices, choice{primary, q})
		}
	}
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	if len(choices) > 0 {
		return Lang{Code: choices[0].code}
	}
	return Lang{Code: DefaultLang}
}

// T returns the string key in l, formatted with args; a key missing in l
// falls back to English, and a key missing there shows as itself (the
// tests check that none is).
func (l Lang) T(key string, args ...any) string {
	s, ok := catalogs[l.Code][key]
	if !ok {
		s, ok = catalogs[DefaultLang][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Field is a field error in l: the catalog's "field."+code, each {name}
// in it replaced by the error's param of that name (a list joined with
// ", "). A code the catalog lacks shows as its key (the tests check that
// none does).
func (l Lang) Field(e privacy.FieldError) string {
	s := l.T("field." + string(e.Code))
	for name, v := range e.Params {
		var text string
		switch v := v.(type) {
		case []string:
			text = strings.Join(v, ", ")
		default:
			text = fmt.Sprint(v)
		}
		s = strings.ReplaceAll(s, "{"+name+"}", text)
	}
	return s
}

// Fields is f with every error in l, by field.
func (l Lang) Fields(f privacy.FieldErrors) map[string]string {
	if len(f) == 0 {
		return nil
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		out[k] = l.Field(v)
	}
	return out
}

// Has reports whether the catalog of l (or English) has key.
func (l Lang) Has(key string) bool {
	_, ok := catalogs[l.Code][key]
	_, en := catalogs[DefaultLang][key]
	return ok || en
}

// Languages lists the languages there is a catalog for.
func Languages() []string {
	var out []string
	for code := range catalogs {
		out = append(out, code)
	}
	sort.Strings(out)
	return out
}

// Keys lists the keys of a language's catalog.
func Keys(code string) []string {
	var out []string
	for k := range catalogs[code] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Field is one form control as a template draws it.
type Field struct {
	ID, Name, Label, Type, Value, Error, Hint string
	Required                                  bool
	Options                                   []Option
}

// Option is one choice of a select, a radio group or a checkbox group.
type Option struct {
	Value, Label string
	Checked      bool
}

// Form is a form's state when it is drawn again after a plain post: what
// was sent, and the error of each field.
type Form struct {
	Values map[string][]string
	Errors map[string]string
	// Focus is set on the form that was posted, so the page scrolls to it.
	Focus bool
}

// Value returns the first value sent for name.
func (f Form) Value(name string) string {
	if v := f.Values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (f Form) has(name, value string) bool {
	for _, v := range f.Values[name] {
		if v == value {
			return true
		}
	}
	return false
}

func funcs(l Lang) template.FuncMap {
	return template.FuncMap{
		"T": l.T,
		// field builds a control of form f: prefix names the form, so ids
		// are unique on a page with several forms.
		"field": func(f Form, prefix, name, labelKey, typ string, required bool) Field {
			return Field{ID: prefix + "-" + name, Name: name, Label: l.T(labelKey), Type: typ, Value: f.Value(name),
				Error: f.Errors[name], Required: required}
		},
		"options": func(f Form, name, keyPrefix string, values ...string) []Option {
			var out []Option
			for _, v := range values {
				out = append(out, Option{Value: v, Label: l.T(keyPrefix + v), Checked: f.has(name, v)})
			}
			return out
		},
		"withOptions": func(fl Field, opts []Option) Field { fl.Options = opts; return fl },
		"withHint":    func(fl Field, key string) Field { fl.Hint = l.T(key); return fl },
	}
}

// Headers every page is sent with: no caching (pages carry tokens), a
// strict Content-Security-Policy (our own files only, no inline script or
// style), no referrer (links carry tokens), no framing.
func Headers() map[string]string {
	return map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
}

// Page is one page to render.
type Page struct {
	Lang  Lang
	Site  Site
	Title string // already in Lang
	// Name is the template: center, message, action, status, export, error.
	Name string
	Data any
}

// Render renders p.
func Render(p Page) (string, error) {
	byName, ok := pages[p.Lang.Code]
	if !ok {
		byName = pages[DefaultLang]
	}
	parsed, ok := byName[p.Name]
	if !ok {
		return "", fmt.Errorf("no page %q", p.Name)
	}
	t, err := parsed()
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", p.Name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return "", fmt.Errorf("render %s: %w", p.Name, err)
	}
	return b.String(), nil
}

// Asset returns an embedded asset and its content type.
func Asset(name string) ([]byte, string, bool) {
	if strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
		return nil, "", false
	}
	b, err := files.ReadFile("assets/" + name)
	if err != nil {
		return nil, "", false
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
	ct, ok := types[path.Ext(name)]
	return b, ct, ok
}

// Center is the privacy center's state: each form as drawn.
type Center struct {
	Contact, Newsletter, Rights Form
	ConsentText, ConsentVersion string
	// ContactConsentText is the sentence beside the contact form's
	// newsletter box (its own version: privacy.Consent).
	ContactConsentText string
	// GPC is set when the browser sent the Global Privacy Control signal.
	GPC bool
}

// NewCenter returns the privacy center with empty forms, its consent
// sentence in lang.
func NewCenter(lang string) Center {
	v, text := privacy.Consent(privacy.SourceSignupForm, lang)
	_, contact := privacy.Consent(privacy.SourceContactForm, lang)
	return Center{ConsentText: text, ConsentVersion: v, ContactConsentText: contact}
}
