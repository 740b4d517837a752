package operator_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/operator"
)

// A reason a spreadsheet would run as a formula is exported as text; the
// detail's pairs are sorted; an unknown format is refused.
func TestWriteAuditCSV(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := operator.WriteAudit(&buf, "csv", []operator.AuditEntry{
		{At: at, Action: "controller_revoked", On: "c-1", By: "ann@team.example", Reason: `=HYPERLINK("https://evil.example")`},
		{At: at, Action: "legal_hold_placed", On: "ab12", By: "ben", Reason: "+1 litigation", Detail: map[string]string{"until": "2027-01-01", "a": "-x"}},
	}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{
		{"at", "action", "on", "by", "reason", "detail"},
		{"2026-12-07T10:00:00Z", "controller_revoked", "c-1", "ann@team.example", `'=HYPERLINK("https://evil.example")`, ""},
		{"2026-12-07T10:00:00Z", "legal_hold_placed", "ab12", "ben", "'+1 litigation", "a=-x; until=2027-01-01"},
	} {
		if i >= len(rows) || len(rows[i]) != len(want) {
			t.Fatalf("row %d: %q", i, rows)
		}
		for j := range want {
			if rows[i][j] != want[j] {
				t.Errorf("row %d cell %d: %q, want %q", i, j, rows[i][j], want[j])
			}
		}
	}
	if err := operator.WriteAudit(&buf, "xlsx", nil); !errors.Is(err, operator.ErrBadRequest) {
		t.Fatalf("xlsx: %v", err)
	}
}
