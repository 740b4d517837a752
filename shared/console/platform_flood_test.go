package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/session"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// floodStore is one rogue controller's flood of OpenDSR requests, all
// pending, none due for a month: within OPENDSR_CREATE_PER_HOUR (10,000 an
// hour per controller), each naming fresh identities (no 409), v3
// erasures without skip_waiting_period stay pending for the 168h waiting
// period: a week of filing is 1.68 million open requests.
type floodStore struct {
	n   int
	due time.Time
}

func (f floodStore) DueRequests(_ context.Context, st privacy.Status, until time.Time) ([]privacy.RightsRequest, error) {
	if st != privacy.RequestPending || (!until.IsZero() && f.due.After(until)) {
		return nil, nil
	}
	out := make([]privacy.RightsRequest, f.n)
	for i := range out {
		out[i] = privacy.RightsRequest{ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), Type: privacy.RightErasure,
			Status: st, DueAt: f.due, Controller: "us-rogue"}
	}
	return out, nil
}

// HOSTILE (review 9): the team's queue, deadline board and privacyctl list
// append every open Platform request, however many, to the site's: a
// controller filing at its allowed rate fills the board with rows not due
// for a month (the digest lists only those due within 7 days), the pages
// and the operator's answer grow without bound (a Lambda answer stops at
// 6 MB: then the board and the list fail outright, the site's requests
// with them). The board must stay bounded whatever a controller files.
func TestHostilePlatformFloodDoesNotDrownTheBoard(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const flood = 20000 // two hours of one controller's allowance
	op := &operator.Operator{Store: siteStore{due: now.AddDate(0, 0, 3)}, Platform: floodStore{n: flood, due: now.AddDate(0, 0, 30)},
		Now: func() time.Time { return now }}
	c := &Console{Operator: op, Now: func() time.Time { return now }}
	m := Member{Member: session.Member{Email: "viewer@example.com", Role: session.RoleViewer}}
	ctx := context.Background()

	rows, err := op.List(ctx, m.caller(), operator.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	platform := 0
	for _, r := range rows {
		if r.Platform {
			platform++
		}
	}
	if platform > 1000 {
		t.Errorf("privacyctl list / the queue carry %d Platform rows of one controller, none due within 7 days: unbounded", platform)
	}
	for name, page := range map[string]func() (Page, error){
		"queue":     func() (Page, error) { return c.Queue(ctx, m, Filter{}) },
		"deadlines": func() (Page, error) { return c.Deadlines(ctx, m) },
	} {
		p, err := page()
		if err != nil {
			t.Fatal(err)
		}
		out, err := web.RenderConsole(p.Template, web.ConsolePage{Title: p.Title, Nav: p.Nav, Data: p.Data})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, `href="/console/requests/site-req-1"`) {
			t.Errorf("%s: the site's request due in 3 days is not listed", name)
		}
		if len(out) > 1<<20 {
			t.Errorf("%s: %d bytes for one controller's %d not-yet-due requests: the page grows without bound", name, len(out), flood)
		}
	}
}

// A flood that is due soon (the worker stopped, or a week of filing
// nearing its date) is capped too: at most operator.MaxPlatformRows of
// the Platform's rows, and the site's request still listed.
func TestPlatformFloodDueSoonIsCapped(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	op := &operator.Operator{Store: siteStore{due: now.AddDate(0, 0, 3)}, Platform: floodStore{n: 2000, due: now.AddDate(0, 0, 2)},
		Now: func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	m := Member{Member: session.Member{Email: "viewer@example.com", Role: session.RoleViewer}}
	rows, err := op.List(context.Background(), m.caller(), operator.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	platform, site := 0, 0
	for _, r := range rows {
		if r.Platform {
			platform++
		} else {
			site++
		}
	}
	if platform != operator.MaxPlatformRows || site != 1 {
		t.Errorf("%d Platform rows and %d of the site's, want %d and 1", platform, site, operator.MaxPlatformRows)
	}
}
