package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	htmltemplate "html/template"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

// The emails a person reads come in the language of the form they used
// (Config.Lang): English is templates/*.txt and *.html; a translation is
// templates/<lang>/<kind>.txt for each email a person receives, and
// templates/<lang>/subjects.json, keyed by the English subject's format,
// and templates/<lang>/categories.json, the words of the generated
// categories answer.
// A translation's HTML part is made from its text (paragraphs, links), so
// a language is one file per email. The team's emails stay in English.

// DefaultLang is the language of the templates at the top of templates/.
const DefaultLang = "en"

type langSet struct {
	text     *texttemplate.Template
	html     *htmltemplate.Template // nil: made from the text
	subjects map[string]string
	// terms are the words of generated text (the categories of personal
	// information), keyed as templates/<lang>/categories.json keys them.
	terms map[string]string
}

// langs parses each language's templates the first time one of its
// emails is rendered, not at start.
var langs = func() map[string]func() (langSet, error) {
	out := map[string]func() (langSet, error){DefaultLang: sync.OnceValues(func() (langSet, error) {
		t, err := texttemplate.New("").Funcs(textFuncs(DefaultLang)).ParseFS(files, "templates/*.txt")
		if err != nil {
			return langSet{}, err
		}
		h, err := htmltemplate.New("").Funcs(htmltemplate.FuncMap(textFuncs(DefaultLang))).ParseFS(files, "templates/*.html")
		return langSet{text: t, html: h}, err
	})}
	dirs, err := fs.ReadDir(files, "templates")
	if err != nil {
		panic(err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			out[d.Name()] = sync.OnceValues(func() (langSet, error) { return parseLang(d.Name()) })
		}
	}
	return out
}()

// parseLang parses a translation: the English set first, so a kind not
// translated (the team's) still renders, then the translation over it.
func parseLang(lang string) (langSet, error) {
	t, err := texttemplate.New("").Funcs(textFuncs(lang)).ParseFS(files, "templates/*.txt")
	if err == nil {
		t, err = t.ParseFS(files, "templates/"+lang+"/*.txt")
	}
	if err != nil {
		return langSet{}, err
	}
	s := langSet{text: t, subjects: map[string]string{}, terms: map[string]string{}}
	for name, into := range map[string]map[string]string{"subjects.json": s.subjects, "categories.json": s.terms} {
		b, err := files.ReadFile("templates/" + lang + "/" + name)
		if err != nil {
			return langSet{}, err
		}
		if err := json.Unmarshal(b, &into); err != nil {
			return langSet{}, fmt.Errorf("templates/%s/%s: %w", lang, name, err)
		}
	}
	return s, nil
}

// Languages lists the languages the emails are written in.
func Languages() []string {
	var out []string
	for l := range langs {
		out = append(out, l)
	}
	return out
}

// translated reports whether kind has its own text in lang.
func translated(lang, kind string) bool {
	_, err := fs.Stat(files, "templates/"+lang+"/"+kind+".txt")
	return err == nil
}

// set is the templates of lang, or English when lang has none (or kind
// is given and lang has no translation of it).
func set(lang, kind string) (langSet, string, error) {
	parse, ok := langs[lang]
	if !ok || (kind != "" && lang != DefaultLang && !translated(lang, kind)) {
		parse, lang = langs[DefaultLang], DefaultLang
	}
	s, err := parse()
	if err != nil {
		return langSet{}, lang, fmt.Errorf("email templates (%s): %w", lang, err)
	}
	return s, lang, nil
}

// render renders kind in lang (English when lang has no translation of
// it): the text part, and the HTML part from its template or, for a
// translation, from the text.
func render(lang, kind, subject string, data any) (text, htmlPart string, err error) {
	s, lang, err := set(lang, kind)
	if err != nil {
		return "", "", err
	}
	var t bytes.Buffer
	if err := s.text.ExecuteTemplate(&t, kind+".txt", data); err != nil {
		return "", "", fmt.Errorf("render %s text (%s): %w", kind, lang, err)
	}
	if s.html == nil {
		return t.String(), htmlFromText(lang, subject, t.String()), nil
	}
	var h bytes.Buffer
	if err := s.html.ExecuteTemplate(&h, kind+".html", data); err != nil {
		return "", "", fmt.Errorf("render %s html: %w", kind, err)
	}
	return t.String(), h.String(), nil
}

// term is the word of generated text key in lang, or english.
func term(lang, key, english string) string {
	if s, _, err := set(lang, ""); err == nil && s.terms[key] != "" {
		return s.terms[key]
	}
	return english
}

// subject is the subject english (a fmt format) in lang, formatted with
// args; English when lang has no translation of it.
func subject(lang, english string, args ...any) string {
	// A language whose templates do not parse fails in render; its
	// subject is the English one.
	if s, _, err := set(lang, ""); err == nil && s.subjects[english] != "" {
		english = s.subjects[english]
	}
	if len(args) == 0 {
		return english
	}
	return fmt.Sprintf(english, args...)
}

var link = regexp.MustCompile(`https?://[^\s<>"]*[^\s<>".,;:!?)]`)

// htmlFromText makes the HTML part of an email from its text: a paragraph
// per block, a line break per line, every address a link, everything
// escaped.
func htmlFromText(lang, title, text string) string {
	var b strings.Builder
	b.WriteString(`<!doctype html>` + "\n" + `<html lang="` + html.EscapeString(lang) + `"><head><meta charset="utf-8"><title>` +
		html.EscapeString(title) + "</title></head>\n" +
		`<body style="font-family:sans-serif;line-height:1.5;color:#1a1a1a;overflow-wrap:anywhere">` + "\n")
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if para = strings.TrimSpace(para); para == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			at := 0
			for _, m := range link.FindAllStringIndex(line, -1) {
				u := html.EscapeString(line[m[0]:m[1]])
				b.WriteString(html.EscapeString(line[at:m[0]]) + `<a href="` + u + `">` + u + "</a>")
				at = m[1]
			}
			b.WriteString(html.EscapeString(line[at:]))
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

var months = map[string][12]string{
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
}

// rights names the request types in each translation (English shows the
// type as the form sends it).
var rights = map[string]map[string]string{
	"de": {"access": "Auskunft", "rectification": "Berichtigung", "erasure": "Löschung", "objection": "Widerspruch",
		"restriction": "Einschränkung der Verarbeitung", "portability": "Datenübertragbarkeit",
		"withdraw_consent": "Widerruf der Einwilligung", "opt_out_of_sale": "Widerspruch gegen Verkauf und Weitergabe",
		"know_categories": "Auskunft über die Kategorien"},
	"fr": {"access": "accès", "rectification": "rectification", "erasure": "effacement", "objection": "opposition",
		"restriction": "limitation du traitement", "portability": "portabilité", "withdraw_consent": "retrait du consentement",
		"opt_out_of_sale": "opposition à la vente et au partage", "know_categories": "connaître les catégories"},
}

// fields names the fields a correction may change, in each language.
var fields = map[string]map[string]string{
	"en": {"name": "name", "company": "company name", "phone": "phone number", "email": "email address"},
	"de": {"name": "Name", "company": "Firmenname", "phone": "Telefonnummer", "email": "E-Mail-Adresse"},
	"fr": {"name": "nom", "company": "nom de l’entreprise", "phone": "numéro de téléphone", "email": "adresse e-mail"},
}

// textFuncs are the templates' functions in lang: date writes a day as
// people of that language do, right names a request type, field a field
// a correction changes.
func textFuncs(lang string) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"date": func(t time.Time) string {
			t = t.UTC()
			m, ok := months[lang]
			switch {
			case !ok:
				return t.Format("2 January 2006")
			case lang == "de":
				return fmt.Sprintf("%d. %s %d", t.Day(), m[t.Month()-1], t.Year())
			case lang == "fr" && t.Day() == 1:
				return fmt.Sprintf("1er %s %d", m[t.Month()-1], t.Year())
			}
			return fmt.Sprintf("%d %s %d", t.Day(), m[t.Month()-1], t.Year())
		},
		"right": func(typ string) string {
			if n, ok := rights[lang][typ]; ok {
				return n
			}
			return typ
		},
		"field": func(f string) string {
			if n, ok := fields[lang][f]; ok {
				return n
			}
			if n, ok := fields[DefaultLang][f]; ok {
				return n
			}
			return f
		},
	}
}
