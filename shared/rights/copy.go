package rights

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Copy is the export as a person reads it (GDPR Art. 15): what we hold,
// grouped by why we hold it, and the information the article asks for
// beside the data. Built from an Export, so the three forms (the page,
// the CSV, the JSON) always hold the same.
type Copy struct {
	Controller, RequestID, GeneratedAt string
	Groups                             []Group
	Events                             []Row
	Requests                           []Row
	Suppression                        []string
	Processing                         []processingInfo
	Purposes                           []privacy.PurposeBasis
	Recipients                         []string
}

// Group is the records held for one purpose (or, for a record that names
// none, of one kind).
type Group struct {
	Purpose string
	Records []Record
}

// Record is one record as name and value pairs, in name order.
type Record struct {
	Kind   string
	Fields []Field
}

// Field is one of a record's values, as text.
type Field struct{ Name, Value string }

// Row is a ledger entry or a request as the page's tables show them.
type Row []string

// Readable is ex as a person reads it.
func Readable(ex Export) Copy {
	c := Copy{Controller: ex.Controller, RequestID: ex.RequestID, GeneratedAt: ex.GeneratedAt,
		Suppression: ex.Suppression, Processing: ex.Processing, Purposes: ex.Purposes, Recipients: ex.Recipients}
	byPurpose := map[string][]Record{}
	for _, rec := range ex.Records {
		purpose := text(rec["purpose"])
		kind := text(rec["kind"])
		if purpose == "" {
			purpose = kind
		}
		byPurpose[purpose] = append(byPurpose[purpose], Record{Kind: kind, Fields: fields(rec)})
	}
	for _, p := range slices.Sorted(maps.Keys(byPurpose)) {
		c.Groups = append(c.Groups, Group{Purpose: p, Records: byPurpose[p]})
	}
	for _, e := range ex.Consent {
		c.Events = append(c.Events, Row{text(e["at"]), text(e["event"]), text(e["purpose"]), text(e["legal_basis"]),
			text(e["policy_version"])})
	}
	for _, r := range ex.Requests {
		c.Requests = append(c.Requests, Row{text(r["id"]), text(r["type"]), text(r["status"]), text(r["received_at"]),
			text(r["completed_at"])})
	}
	return c
}

// WriteCSV writes ex as one table, a value a row: section, item, field,
// value. A value a spreadsheet would take for a formula is written as
// text (a leading apostrophe: the forms' free text is the person's, or a
// stranger's, and must not run in the person's spreadsheet).
func WriteCSV(w io.Writer, ex Export) error {
	cw := csv.NewWriter(w)
	row := func(section, item, field, value string) {
		_ = cw.Write([]string{section, item, field, cell(value)})
	}
	row("section", "item", "field", "value")
	for i, rec := range ex.Records {
		item := fmt.Sprintf("%s %d", text(rec["kind"]), i+1)
		for _, f := range fields(rec) {
			row("record", item, f.Name, f.Value)
		}
	}
	for i, e := range ex.Consent {
		item := fmt.Sprintf("event %d", i+1)
		for _, f := range fields(e) {
			row("event", item, f.Name, f.Value)
		}
	}
	for _, r := range ex.Requests {
		for _, f := range fields(r) {
			row("rights_request", text(r["id"]), f.Name, f.Value)
		}
	}
	for _, s := range ex.Suppression {
		row("marketing_suppression", s, "reason", s)
	}
	for _, p := range ex.Purposes {
		row("purpose", p.Purpose, "legal_basis", p.LegalBasis)
	}
	cw.Flush()
	return cw.Error()
}

// cell neutralises a value a spreadsheet would evaluate (OWASP, "CSV
// Injection"): one that starts with =, +, -, @, a tab or a carriage return.
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// fields flattens a record: nested maps as "a.b", lists joined.
func fields(m map[string]any) []Field {
	var out []Field
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			name := prefix + k
			if sub, ok := m[k].(map[string]any); ok {
				walk(name+".", sub)
				continue
			}
			out = append(out, Field{Name: name, Value: text(m[k])})
		}
	}
	walk("", m)
	return out
}

// text writes a plain value as text.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = text(p)
		}
		return strings.Join(parts, ", ")
	case []string:
		return strings.Join(v, ", ")
	case map[string]any:
		var parts []string
		for _, f := range fields(v) {
			parts = append(parts, f.Name+": "+f.Value)
		}
		sort.Strings(parts)
		return strings.Join(parts, "; ")
	case bool, float64, int, int64:
		return fmt.Sprint(v)
	}
	// A typed value (a request's processors told): as its JSON reads.
	b, err := json.Marshal(v)
	var plain any
	if err != nil || json.Unmarshal(b, &plain) != nil {
		return fmt.Sprint(v)
	}
	return text(plain)
}
