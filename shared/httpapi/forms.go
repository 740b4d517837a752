package httpapi

import (
	"bytes"
	"html/template"
	"net/http"
)

// Checkbox is one choice on an action page.
type Checkbox struct {
	Name, Value, Label string
	Checked            bool
}

// Action is a page whose one purpose is a button that posts a form: the
// confirmation, unsubscribe and preferences pages. GET shows it and changes
// nothing; the button does the work.
type Action struct {
	Title, Message string
	URL            string // where the button posts
	Button         string
	Checkboxes     []Checkbox
	// Second is an optional second form on the page (e.g. "unsubscribe from
	// everything" under the topic choices).
	SecondURL, SecondButton string
}

var actionTmpl = template.Must(template.New("action").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body><main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<form method="post" action="{{.URL}}">
{{if .Checkboxes}}<fieldset><legend>Topics</legend>
{{range $i, $c := .Checkboxes}}<div><input type="checkbox" id="cb{{$i}}" name="{{$c.Name}}" value="{{$c.Value}}"{{if $c.Checked}} checked{{end}}> <label for="cb{{$i}}">{{$c.Label}}</label></div>
{{end}}</fieldset>{{end}}
<button type="submit">{{.Button}}</button>
</form>
{{if .SecondURL}}<form method="post" action="{{.SecondURL}}"><button type="submit">{{.SecondButton}}</button></form>{{end}}
</main></body></html>
`))

// ActionPage renders an Action with status 200.
func ActionPage(a Action) Response {
	var b bytes.Buffer
	if err := actionTmpl.Execute(&b, a); err != nil {
		return Response{StatusCode: http.StatusInternalServerError, Body: "internal error"}
	}
	resp := renderPage(http.StatusOK, pageData{})
	resp.Body = b.String()
	return resp
}
