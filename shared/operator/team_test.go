package operator_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// Every team action is named in the team's ledger with who took it and
// why, and the audit export (JSON lines and CSV) of the period holds each;
// no entry holds an address.
func TestTeamActionsAreAttributed(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	ann := operator.Caller{By: "ann@team.example", MayDecide: true}
	ben := operator.Caller{By: "arn:aws:iam::000000000000:user/ben", MayDecide: true}
	subject := op.Hasher.Subject("carol@example.com")
	if err := store.Suppress(ctx, subject, privacy.SuppressUnsubscribed, privacy.Event{Subject: subject, Name: "unsubscribed",
		At: time.Now(), LegalBasis: privacy.BasisConsent, PolicyVersion: "2018-07-10"}); err != nil {
		t.Fatal(err)
	}
	creds, err := op.IssueController(ctx, ann, "Acme", "us", "contract C-1 signed")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		action, by, reason string
		do                 func() error
	}{
		{"controller_issued", ann.By, "contract C-1 signed", func() error { return nil }},
		{"controller_retention_set", ben.By, "contract C-1 says 90 days", func() error {
			return op.SetControllerRetention(ctx, ben, creds.ControllerID, 90, "contract C-1 says 90 days")
		}},
		{"controller_revoked", ann.By, "key leaked", func() error { return op.RevokeController(ctx, ann, creds.ControllerID, "key leaked") }},
		{"legal_hold_placed", ben.By, "litigation LIT-1", func() error {
			return op.PlaceHold(ctx, ben, "Carol@Example.com", "litigation LIT-1", time.Time{})
		}},
		{"legal_hold_lifted", ann.By, "LIT-1 settled", func() error { return op.LiftHold(ctx, ann, "carol@example.com", "LIT-1 settled") }},
		{"suppression_lifted", ben.By, "asked us by letter to resubscribe", func() error {
			_, err := op.LiftSuppression(ctx, ben, "carol@example.com", "asked us by letter to resubscribe", nil)
			return err
		}},
		{"policy_published", ann.By, "new processor named", func() error {
			_, err := op.PublishPolicy(ctx, ann, operator.Publication{Version: "2026-12-01", Effective: time.Now().UTC().AddDate(0, 0, 1),
				Summary: "names a new processor", Reason: "new processor named"})
			return err
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
	}
	today := time.Now().UTC()
	entries, err := op.Audit(ctx, ann, today, today)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if !slices.ContainsFunc(entries, func(e operator.AuditEntry) bool {
			return e.Action == s.action && e.By == s.by && e.Reason == s.reason && !e.At.IsZero()
		}) {
			t.Errorf("no %s by %s (%q) in the audit: %+v", s.action, s.by, s.reason, entries)
		}
	}
	// A person's action names them by their subject hash, never the address.
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "legal_hold") && e.On != string(subject) {
			t.Errorf("%s is on %q, want the subject hash", e.Action, e.On)
		}
	}
	for _, format := range operator.AuditFormats {
		var buf bytes.Buffer
		if err := operator.WriteAudit(&buf, format, entries); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(buf.String()), "carol@example.com") {
			t.Fatalf("the %s export holds the address", format)
		}
		var actions []string
		switch format {
		case "jsonl":
			for line := range strings.Lines(buf.String()) {
				var e operator.AuditEntry
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("jsonl line %q: %v", line, err)
				}
				actions = append(actions, e.Action+" "+e.By+" "+e.Reason)
			}
		case "csv":
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil || len(rows) == 0 || !slices.Equal(rows[0], []string{"at", "action", "on", "by", "reason", "detail"}) {
				t.Fatalf("csv %v %v", rows, err)
			}
			for _, r := range rows[1:] {
				actions = append(actions, r[1]+" "+r[3]+" "+r[4])
			}
		}
		for _, s := range steps {
			if !slices.Contains(actions, s.action+" "+s.by+" "+s.reason) {
				t.Errorf("the %s export lacks %s by %s: %v", format, s.action, s.by, actions)
			}
		}
	}
	// A period before today holds none of them.
	if old, err := op.Audit(ctx, ann, today.AddDate(0, 0, -9), today.AddDate(0, 0, -2)); err != nil || len(old) != 0 {
		t.Fatalf("a past week's audit: %v %v", old, err)
	}
}

// A complaint's suppression is lifted by two team members only: the
// first one's lift is an ask that lifts nothing, the same member cannot
// approve it, and a second member's lift approves it; both are named.
func TestComplaintLiftNeedsTwoMembers(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	ann := operator.Caller{By: "ann@team.example", MayDecide: true}
	ben := operator.Caller{By: "ben@team.example", MayDecide: true}
	subject := op.Hasher.Subject("dan@example.com")
	for _, reason := range []string{privacy.SuppressComplained, privacy.SuppressObjected} {
		if err := store.Suppress(ctx, subject, reason, privacy.Event{Subject: subject, Name: privacy.EventName("suppressed_" + reason),
			At: time.Now(), LegalBasis: privacy.BasisConsent, PolicyVersion: "2018-07-10"}); err != nil {
			t.Fatal(err)
		}
	}
	inForce := func() []string {
		t.Helper()
		in, err := store.Suppressions(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(in)
		return in
	}
	both := []string{privacy.SuppressComplained, privacy.SuppressObjected}
	l, err := op.LiftSuppression(ctx, ann, "dan@example.com", "he wrote that the complaint was a mistake", []string{privacy.SuppressComplained})
	if err != nil || len(l.Lifted) != 0 || !slices.Equal(l.Awaiting, []string{privacy.SuppressComplained}) {
		t.Fatalf("ann's lift: %+v %v, want an ask", l, err)
	}
	if got := inForce(); !slices.Equal(got, both) {
		t.Fatalf("after one member's lift: %v in force, want %v", got, both)
	}
	if _, err := op.LiftSuppression(ctx, ann, "dan@example.com", "approving my own", []string{privacy.SuppressComplained}); !errors.Is(err, operator.ErrForbidden) {
		t.Fatalf("ann approving her own ask: %v, want forbidden", err)
	}
	if got := inForce(); !slices.Equal(got, both) {
		t.Fatalf("after the same member's second lift: %v in force", got)
	}
	l, err = op.LiftSuppression(ctx, ben, "dan@example.com", "checked his letter", []string{privacy.SuppressComplained})
	if err != nil || !slices.Equal(l.Lifted, []string{privacy.SuppressComplained}) || l.AskedBy != ann.By {
		t.Fatalf("ben's approval: %+v %v", l, err)
	}
	if got := inForce(); !slices.Equal(got, []string{privacy.SuppressObjected}) {
		t.Fatalf("after the approval: %v in force, want only the objection", got)
	}
	entries, err := op.Audit(ctx, ben, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, e := range entries {
		named = append(named, e.Action+" "+e.By+" "+e.Detail["asked_by"])
	}
	for _, want := range []string{"suppression_lift_asked " + ann.By + " ", "suppression_lift_approved " + ben.By + " " + ann.By} {
		if !slices.Contains(named, want) {
			t.Errorf("the audit lacks %q: %v", want, named)
		}
	}
	// An approval used up is no ask any more: ben's next lift of the
	// objection is an ask of its own.
	if l, err := op.LiftSuppression(ctx, ben, "dan@example.com", "also asked", nil); err != nil || !slices.Equal(l.Awaiting, []string{privacy.SuppressObjected}) {
		t.Fatalf("ben's lift of the objection: %+v %v, want an ask", l, err)
	}
	// An approval may name the reasons in another order than the ask.
	if err := store.Suppress(ctx, subject, privacy.SuppressUnsubscribed, privacy.Event{Subject: subject, Name: "unsubscribed",
		At: time.Now(), LegalBasis: privacy.BasisConsent, PolicyVersion: "2018-07-10"}); err != nil {
		t.Fatal(err)
	}
	if l, err := op.LiftSuppression(ctx, ben, "dan@example.com", "asked again", []string{privacy.SuppressUnsubscribed, privacy.SuppressObjected}); err != nil || len(l.Awaiting) != 2 {
		t.Fatalf("ben's ask of two: %+v %v", l, err)
	}
	if l, err := op.LiftSuppression(ctx, ann, "dan@example.com", "checked", []string{privacy.SuppressObjected, privacy.SuppressUnsubscribed}); err != nil || len(l.Lifted) != 2 || l.AskedBy != ben.By {
		t.Fatalf("ann's approval in another order: %+v %v", l, err)
	}
	if got := inForce(); len(got) != 0 {
		t.Fatalf("after the approval of two: %v in force", got)
	}
}

// The report reads every request from the store, whatever its status:
// completed, denied, open and expired ones each count where they belong.
func TestReportReadsTheRequests(t *testing.T) {
	op, store := newOperator(t)
	ctx := context.Background()
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	op.Now = func() time.Time { return day(12, 7) }
	for i, q := range []privacy.RightsRequest{
		{Type: "access", Status: privacy.RequestCompleted, ReceivedAt: day(11, 2), DueAt: day(12, 2), CompletedAt: day(11, 12)},
		{Type: "erasure", Status: privacy.RequestDenied, ReceivedAt: day(11, 3), DueAt: day(12, 3), CompletedAt: day(11, 5), Reason: "unfounded"},
		{Type: "access", Status: privacy.RequestPending, ReceivedAt: day(11, 5), DueAt: day(12, 5)}, // overdue on 7 December
		{Type: "erasure", Status: privacy.RequestExpired, ReceivedAt: day(11, 6), DueAt: day(12, 6)},
		{Type: "access", Status: privacy.RequestCompleted, ReceivedAt: day(10, 1), DueAt: day(10, 31), CompletedAt: day(10, 5)},
	} {
		q.ID = fmt.Sprintf("00000000-0000-4000-8000-1000000000%02d", i)
		if err := store.CreateRequest(ctx, q, privacy.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := op.Report(ctx, operator.Caller{By: "viewer@team.example"}, day(11, 1), day(11, 30))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Total; got.Received != 4 || got.Closed != 2 || got.Overdue != 1 || got.MedianDays != 2 || got.P95Days != 10 {
		t.Errorf("total %+v, want 4 received, 2 closed, 1 overdue, median 2 days, p95 10", got)
	}
	if len(r.Denials) != 1 || r.Denials[0].Reason != "unfounded" || r.Denials[0].N != 1 {
		t.Errorf("denials %+v", r.Denials)
	}
	if _, err := op.Report(ctx, operator.Caller{}, day(11, 1), day(11, 30)); !errors.Is(err, operator.ErrForbidden) {
		t.Errorf("a report for nobody: %v", err)
	}
}
