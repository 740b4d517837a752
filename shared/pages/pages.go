// Package pages renders the site's HTML pages for the HTTP handlers: the
// privacy center, the action pages a link opens, messages and error pages,
// from the page templates of shared/web. Only the functions that serve
// pages link it. A page is rendered for a Reader (the language asked for
// and the site); http.go renders them for a request, as the handlers do.
package pages

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// Reader is who a page is for: the language their browser asked for, and
// the site (the policy's link, version and bases) they visit.
type Reader struct {
	Lang web.Lang
	Site web.Site
}

// Page is a rendered page: its status and HTML (served with web.Headers).
type Page struct {
	Status int
	HTML   string
	// Failed: the templates failed; HTML is empty.
	Failed bool
}

func (rd Reader) render(status int, title, name string, data any) Page {
	body, err := web.Render(web.Page{Lang: rd.Lang, Site: rd.Site, Title: title, Name: name, Data: data})
	if err != nil {
		return Page{Status: http.StatusInternalServerError, Failed: true}
	}
	return Page{Status: status, HTML: body}
}

// Message is a page of the catalog entry key: its title is key+".title"
// and its text key+".body", formatted with args.
func (rd Reader) Message(status int, key string, args ...any) Page {
	l := rd.Lang
	return rd.render(status, l.T(key+".title"), "message", struct {
		Paragraphs []string
		Next       string
	}{[]string{l.T(key+".body", args...)}, l.T("site.center")})
}

// Checkbox is one choice on an action page; Label is a catalog key.
type Checkbox struct {
	Name, Value, Label string
	Checked            bool
}

// Action is a page whose one purpose is a button that posts a form: the
// confirmation, unsubscribe, preferences and verification pages. GET shows
// it and changes nothing; the button does the work. Key names the catalog
// entry: key+".title", key+".body" (formatted with Args), key+".button".
type Action struct {
	Key        string
	Args       []any
	URL        string // where the button posts
	Legend     string // catalog key of the checkboxes' group
	Checkboxes []Checkbox
	// SecondURL and SecondButton (a catalog key) make an optional second
	// form (e.g. "unsubscribe from everything" under the topic choices).
	SecondURL, SecondButton string
	// Quote is text the button agrees to, shown word for word under the
	// catalog's Key+".quote" (the consent sentence a confirmation
	// records); "" for none.
	Quote string
}

// Action renders a, with status 200.
func (rd Reader) Action(a Action) Page {
	l := rd.Lang
	d := struct {
		Message, URL, Button, Legend string
		Checkboxes                   []Checkbox
		SecondURL, SecondButton      string
		QuoteLead, Quote             string
	}{l.T(a.Key+".body", a.Args...), a.URL, l.T(a.Key + ".button"), l.T(a.Legend), nil, a.SecondURL, l.T(a.SecondButton), "", a.Quote}
	if a.Quote != "" {
		d.QuoteLead = l.T(a.Key + ".quote")
	}
	for _, c := range a.Checkboxes {
		c.Label = l.T(c.Label)
		d.Checkboxes = append(d.Checkboxes, c)
	}
	return rd.render(http.StatusOK, l.T(a.Key+".title"), "action", d)
}

// View is a page of its own template (status, export, center) with the
// given title.
func (rd Reader) View(status int, title, name string, data any) Page {
	return rd.render(status, title, name, data)
}

// Center is the privacy center; c holds the state of a form drawn again
// after a plain post.
func (rd Reader) Center(status int, c web.Center) Page {
	return rd.render(status, rd.Lang.T("center.title"), "center", c)
}

// CenterForm is the privacy center drawn again after a plain post of its
// form (contact, newsletter or rights) with field errors: the values sent
// and each error next to its field.
func (rd Reader) CenterForm(status int, form string, fields privacy.FieldErrors, values url.Values) Page {
	state := web.Form{Errors: rd.Lang.Fields(fields), Focus: true, Values: values}
	c := web.NewCenter(rd.Lang.Code)
	switch form {
	case "contact":
		c.Contact = state
	case "newsletter":
		c.Newsletter = state
	case "rights":
		c.Rights = state
	}
	return rd.Center(status, c)
}

// Error is what happened and what to do next: the catalog's text of the
// error's code when it has one, else message.
func (rd Reader) Error(status int, code, message string, fields privacy.FieldErrors) Page {
	l := rd.Lang
	title, msg, next := l.T("error."+code+".title"), message, l.T("error.next")
	if l.Has("error." + code + ".body") {
		msg, next = l.T("error."+code+".body"), l.T("error."+code+".next")
	}
	if !l.Has("error." + code + ".title") {
		title = http.StatusText(status)
	}
	type field struct{ Name, Msg string }
	var fs []field
	for k, v := range fields {
		fs = append(fs, field{k, l.Field(v)})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return rd.render(status, title, "error", struct {
		Message, Next string
		Fields        []field
	}{msg, next, fs})
}
