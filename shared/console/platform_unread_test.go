package console

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/operator"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/session"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// unreadPlatform is a Platform table that cannot be read.
type unreadPlatform struct{}

func (unreadPlatform) DueRequests(context.Context, privacy.Status, time.Time) ([]privacy.RightsRequest, error) {
	return nil, errors.New("throttled")
}

// When the Platform's requests cannot be read, the team's queue and
// deadline board still list the site's requests, and say the Platform's
// are missing, as the digest does: a failure of the Platform's table left
// the whole board unreadable (503), the site's deadlines with it.
func TestBoardWithThePlatformUnread(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	op := &operator.Operator{Store: siteStore{due: now.AddDate(0, 0, 3)}, Platform: unreadPlatform{},
		Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
	c := &Console{Operator: op, Now: func() time.Time { return now }}
	m := Member{Member: session.Member{Email: "viewer@example.com", Role: session.RoleViewer}}
	ctx := context.Background()

	rows, err := op.List(ctx, m.caller(), operator.Filter{})
	if !errors.Is(err, operator.ErrPlatformUnread) || len(rows) != 1 || rows[0].ID != "site-req-1" {
		t.Errorf("List with the Platform unread: %d rows, %v; want the site's request and ErrPlatformUnread", len(rows), err)
	}
	for _, tc := range []struct {
		name string
		page func() (Page, error)
	}{
		{"queue", func() (Page, error) { return c.Queue(ctx, m, Filter{}) }},
		{"queue by status", func() (Page, error) { return c.Queue(ctx, m, Filter{Status: string(privacy.RequestPending)}) }},
		{"deadlines", func() (Page, error) { return c.Deadlines(ctx, m) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.page()
			if err != nil {
				t.Fatalf("the page failed whole: %v", err)
			}
			out, err := web.RenderConsole(p.Template, web.ConsolePage{Title: p.Title, Nav: p.Nav, Data: p.Data})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, `href="/console/requests/site-req-1"`) {
				t.Errorf("the site's request is not listed:\n%s", out)
			}
			if !strings.Contains(out, "requests could not be read just now") {
				t.Errorf("the page does not say the Platform's requests are missing:\n%s", out)
			}
		})
	}
}
