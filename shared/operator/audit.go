package operator

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/report"
)

// AuditEntry is one team action as the audit exports it: when, what, on
// what (a controller's or processor's id, a policy version, a person's
// subject hash: never an address), who and why, and the rest of its
// ledger entry's detail.
type AuditEntry struct {
	At     time.Time         `json:"at"`
	Action string            `json:"action"`
	On     string            `json:"on,omitempty"`
	By     string            `json:"by"`
	Reason string            `json:"reason,omitempty"`
	Detail map[string]string `json:"detail,omitempty"`
}

// Audit is every team action of the days from..to (both included; zero
// from: since the first, zero to: until now), oldest first: the entries
// of the team's ledger partition, each with who took it and why.
func (o *Operator) Audit(ctx context.Context, c Caller, from, to time.Time) ([]AuditEntry, error) {
	if err := c.reads(); err != nil {
		return nil, err
	}
	from, to = o.period(from, to)
	es, err := o.Store.LedgerBetween(ctx, privacy.TeamSubject, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(es))
	for _, e := range es {
		d := maps.Clone(e.Detail)
		a := AuditEntry{At: e.At, Action: string(e.Name), On: e.Ref, By: d["by"], Reason: d["reason"]}
		delete(d, "by")
		delete(d, "reason")
		if len(d) > 0 {
			a.Detail = d
		}
		out = append(out, a)
	}
	return out, nil
}

// period is the days from..to as instants (report.Period), zero from the
// first day there is and zero to today.
func (o *Operator) period(from, to time.Time) (time.Time, time.Time) {
	if to.IsZero() {
		to = o.Now().UTC()
	}
	if from.IsZero() {
		_, to = report.Period(to, to)
		return time.Time{}, to
	}
	return report.Period(from, to)
}

// Report is the figures of the rights requests of the days from..to
// (report.Build; zero to: today, zero from: the first of to's month),
// from the requests themselves.
func (o *Operator) Report(ctx context.Context, c Caller, from, to time.Time) (report.Report, error) {
	if err := c.reads(); err != nil {
		return report.Report{}, err
	}
	if to.IsZero() {
		to = o.Now().UTC()
	}
	if from.IsZero() {
		from = time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	if to.Before(from) {
		return report.Report{}, fmt.Errorf("%w: the period's last day is before its first", ErrBadRequest)
	}
	reqs, err := o.desk(c).List(ctx, append(privacy.OpenStatuses(), privacy.RequestCompleted, privacy.RequestDenied,
		privacy.RequestCancelled, privacy.RequestExpired, privacy.RequestRedirected), false)
	if err != nil {
		return report.Report{}, err
	}
	return report.Build(reqs, from, to, o.Now().UTC()), nil
}

// AuditFormats are the formats the audit exports.
var AuditFormats = []string{"jsonl", "csv"}

// WriteAudit writes entries in format (AuditFormats): JSON lines, one
// entry each, or CSV with a header (at, action, on, by, reason, detail as
// key=value pairs, sorted, separated by "; "). A CSV cell that a
// spreadsheet would run as a formula (=, +, -, @, tab, CR) is quoted
// with a leading apostrophe.
func WriteAudit(w io.Writer, format string, entries []AuditEntry) error {
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"at", "action", "on", "by", "reason", "detail"})
		for _, e := range entries {
			var d []string
			for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
				d = append(d, k+"="+e.Detail[k])
			}
			row := []string{e.At.UTC().Format(time.RFC3339Nano), e.Action, e.On, e.By, e.Reason, strings.Join(d, "; ")}
			for i, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					row[i] = "'" + cell
				}
			}
			_ = cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	}
	return fmt.Errorf("%w: format must be one of %s", ErrBadRequest, strings.Join(AuditFormats, ", "))
}
