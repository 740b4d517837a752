package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/session"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// siteStore holds one site request, pending, no delivery and no processor
// ask; any other
// call panics (the embedded nil Store).
type siteStore struct {
	operator.Store
	due time.Time
}

func (s siteStore) RequestsByStatus(_ context.Context, st privacy.Status, _ time.Time) ([]privacy.RightsRequest, error) {
	if st != privacy.RequestPending {
		return nil, nil
	}
	return []privacy.RightsRequest{{ID: "site-req-1", Type: privacy.RightAccess, Status: st, DueAt: s.due}}, nil
}

func (siteStore) DeliverySummaries(context.Context, string) ([]privacy.Delivery, error) {
	return nil, nil
}

func (siteStore) ProcessorAsks(context.Context) ([]privacy.ProcessorAsk, error) { return nil, nil }

func (siteStore) Processors(context.Context) ([]privacy.Processor, error) { return nil, nil }

// platformStore holds one Platform request, pending and overdue.
type platformStore struct{ due time.Time }

func (p platformStore) DueRequests(_ context.Context, st privacy.Status, until time.Time) ([]privacy.RightsRequest, error) {
	if st != privacy.RequestPending || (!until.IsZero() && p.due.After(until)) {
		return nil, nil
	}
	return []privacy.RightsRequest{{ID: "plat-req-1", Type: privacy.RightErasure, Status: st, DueAt: p.due, Controller: "us-acme"}}, nil
}

// #35: the console's queue and deadline board list the Platform's open
// requests, flagged as the Platform's with their controller, without a
// link to a page the desk has not (the desk neither shows nor decides
// them); the site's keep theirs.
func TestPlatformRequestsOnTheConsole(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	op := &operator.Operator{Store: siteStore{due: now.AddDate(0, 0, 20)}, Platform: platformStore{due: now.AddDate(0, 0, -2)},
		Now: func() time.Time { return now }}
	c := &Console{Operator: op, Now: func() time.Time { return now }}
	m := Member{Member: session.Member{Email: "viewer@example.com", Role: session.RoleViewer}}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		page func() (Page, error)
		// overdue is what the page says just before the Platform's row.
		overdue string
	}{
		{"queue", func() (Page, error) { return c.Queue(ctx, m, Filter{}) }, ""},
		{"queue, overdue", func() (Page, error) { return c.Queue(ctx, m, Filter{Overdue: true}) }, ""},
		{"deadlines", func() (Page, error) { return c.Deadlines(ctx, m) }, `<h2 id="g-overdue">Overdue (1)</h2>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.page()
			if err != nil {
				t.Fatal(err)
			}
			out, err := web.RenderConsole(p.Template, web.ConsolePage{Title: p.Title, Nav: p.Nav, Data: p.Data})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "plat-req") || !strings.Contains(out, "Platform, controller us-acme") {
				t.Errorf("the Platform's overdue request is not listed, flagged:\n%s", out)
			}
			if strings.Contains(out, "/console/requests/plat-req-1") {
				t.Errorf("the Platform's request links to a page the desk has not:\n%s", out)
			}
			if n := strings.Count(out, `id="g-processors"`); tc.name == "deadlines" && n != 1 {
				t.Errorf("the processors' section is on the board %d times, want once", n)
			}
			if tc.overdue != "" && !strings.Contains(out, tc.overdue) {
				t.Errorf("lacks %q:\n%s", tc.overdue, out)
			}
			if tc.name != "queue, overdue" && !strings.Contains(out, `href="/console/requests/site-req-1"`) {
				t.Errorf("the site's request lost its link:\n%s", out)
			}
		})
	}
}
