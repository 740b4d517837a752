package httpapi

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"
)

// A small page for browsers that post a plain form or follow a link with
// Accept: text/html. The pages issue replaces these with the full set.
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body><main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Fields}}<ul>{{range .Fields}}<li><strong>{{.Name}}</strong>: {{.Msg}}</li>{{end}}</ul>{{end}}
</main></body></html>
`))

type pageField struct{ Name, Msg string }

type pageData struct {
	Title, Message string
	Fields         []pageField
}

// Page renders a small HTML page with the given status.
func Page(status int, title, message string) Response {
	return renderPage(status, pageData{Title: title, Message: message})
}

// ErrorPage renders an error as a page.
func ErrorPage(e *Error) Response {
	d := pageData{Title: http.StatusText(e.Status), Message: e.Message}
	for k, v := range e.Fields {
		d.Fields = append(d.Fields, pageField{k, v})
	}
	sort.Slice(d.Fields, func(i, j int) bool { return d.Fields[i].Name < d.Fields[j].Name })
	return renderPage(e.Status, d)
}

func renderPage(status int, d pageData) Response {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		return Response{StatusCode: http.StatusInternalServerError, Body: "internal error"}
	}
	return Response{StatusCode: status, Body: b.String(), Headers: map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy":         "no-referrer",
	}}
}
