package local

import (
	"encoding/json"
	"testing"
)

// The mailer's filter on the ops table's stream, as the template writes
// it and as Lambda evaluates it (a literal list matches the value
// exactly): every change of a processor's registry item (pk "PROC#": an
// INSERT, a MODIFY, a REMOVE, a TTL removal) invokes the mailer; the asks
// (PROC#ASK), the contact kept (PROC#CONTACT), the mailer's own PROC#SEEN
// and every other ops item (markers, counters, cursors, controllers) do
// not.
func TestOpsStreamFilter(t *testing.T) {
	tmpl := repoTemplate(t)
	r, _ := NewResolver(tmpl, DevParams("http://localhost:3000"), "us-east-1")
	fns, err := Functions(tmpl, r)
	if err != nil {
		t.Fatal(err)
	}
	var filters []filter
	for _, f := range fns {
		if e, ok := f.Events["OpsStream"]; ok && f.ID == "MailerFunction" {
			if filters, err = parseFilters(e.Properties["FilterCriteria"]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(filters) == 0 {
		t.Fatal("the mailer's ops stream filter was not read from the template")
	}
	record := func(event, pk string) map[string]any {
		var rec map[string]any
		img := `{"pk":{"S":"` + pk + `"},"sk":{"S":"p-1"},"contact_email":{"S":"a@b.example"}}`
		body := `{"eventName":"` + event + `","dynamodb":{"Keys":{"pk":{"S":"` + pk + `"},"sk":{"S":"p-1"}}`
		switch event {
		case "INSERT":
			body += `,"NewImage":` + img
		case "MODIFY":
			body += `,"OldImage":` + img + `,"NewImage":` + img
		case "REMOVE":
			body += `,"OldImage":` + img
		}
		if err := json.Unmarshal([]byte(body+`}}`), &rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	for _, ev := range []string{"INSERT", "MODIFY", "REMOVE"} {
		if !matchAny(filters, record(ev, "PROC#")) {
			t.Errorf("a processor's %s does not invoke the mailer", ev)
		}
		for _, pk := range []string{"PROC#ASK", "PROC#CONTACT", "PROC#SEEN", "PROC#x", "MAIL#abc", "CTRL#c-1", "RL#x", "PMBOX#p-1"} {
			if matchAny(filters, record(ev, pk)) {
				t.Errorf("a %s of %s invokes the mailer", ev, pk)
			}
		}
	}
}
