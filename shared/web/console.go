package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed console/*.html
var consoleFiles embed.FS

// consolePages holds each console page, parsed the first time it is shown.
var consolePages = sync.OnceValue(func() map[string]func() (*template.Template, error) {
	names, err := fs.Glob(consoleFiles, "console/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]func() (*template.Template, error){}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" {
			continue
		}
		out[base] = sync.OnceValues(func() (*template.Template, error) {
			return template.New("layout.html").Funcs(consoleFuncs).ParseFS(consoleFiles, "console/layout.html", name)
		})
	}
	return out
})

var consoleFuncs = template.FuncMap{
	// day is a time as the console shows a date; "" for the zero time.
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006")
	},
	// when is a time to the minute, UTC.
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	// label reads a stored word (a status, a type, a relationship: a
	// string or one of privacy's named string types) with spaces.
	"label": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
}

// ConsolePage is one page of the privacy team's console: English (the
// team's working language), its own layout, the same stylesheet and
// headers as every page.
type ConsolePage struct {
	Title string
	// Member is who is signed in ("" on the sign-in pages), Role theirs.
	Member, Role string
	// CSRF is the token each form of the page posts back.
	CSRF string
	// Nav is the section the page belongs to: queue, deadlines, people,
	// controllers, processors, ….
	Nav string
	// Refresh, when set, sends the browser on to that path: a navigation
	// of our own, so the SameSite=Strict session goes with it.
	Refresh string
	Data    any
}

// RenderConsole renders a console page by its template's name.
func RenderConsole(name string, p ConsolePage) (string, error) {
	parsed, ok := consolePages()[name]
	if !ok {
		return "", fmt.Errorf("no console page %q", name)
	}
	t, err := parsed()
	if err != nil {
		return "", fmt.Errorf("parse console %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return "", fmt.Errorf("render console %s: %w", name, err)
	}
	return b.String(), nil
}
