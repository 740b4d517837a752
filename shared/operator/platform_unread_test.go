package operator

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// siteOnly holds one pending site request; any other call panics (the
// embedded nil Store).
type siteOnly struct{ Store }

func (siteOnly) RequestsByStatus(_ context.Context, st privacy.Status, _ time.Time) ([]privacy.RightsRequest, error) {
	if st != privacy.RequestPending {
		return nil, nil
	}
	return []privacy.RightsRequest{{ID: "site-req-1", Type: privacy.RightAccess, Status: st}}, nil
}

type platformDown struct{}

func (platformDown) DueRequests(context.Context, privacy.Status, time.Time) ([]privacy.RightsRequest, error) {
	return nil, errors.New("throttled")
}

// privacyctl list, the Platform's table unreadable: the site's requests,
// and a message saying the Platform's are missing (it was a 503 for all).
func TestListActionWithThePlatformUnread(t *testing.T) {
	o := &Operator{Store: siteOnly{}, Platform: platformDown{}, Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	res, err := o.dispatch(context.Background(), Caller{By: "arn:aws:iam::000000000000:user/ann"}, Request{Action: "list"})
	if err != nil {
		t.Fatalf("list failed whole: %v", err)
	}
	rows, _ := res.Data.([]Row)
	if len(rows) != 1 || rows[0].ID != "site-req-1" || !strings.Contains(res.Message, "could not be read") {
		t.Errorf("list: %d rows, message %q; want the site's request and the Platform's absence said", len(rows), res.Message)
	}
}

// deskDown is a requests table that cannot be read.
type deskDown struct{ Store }

func (deskDown) RequestsByStatus(context.Context, privacy.Status, time.Time) ([]privacy.RightsRequest, error) {
	return nil, errors.New("dial tcp: connection refused")
}

// A team action a dependency failed is a 503 that says so, not the site's
// "We could not save your request... Nothing was stored" (untrue of a
// read, and not known of an action of several steps).
func TestActionUnavailableAnswer(t *testing.T) {
	o := &Operator{Store: deskDown{}, Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	_, err := o.serveIAM(context.Background(), httpapi.Request{Caller: "arn:aws:iam::000000000000:user/ann",
		Body: `{"action":"list"}`, Headers: map[string]string{"content-type": "application/json"}})
	var e *httpapi.Error
	if !errors.As(err, &e) || e.Status != 503 || strings.Contains(e.Message, "stored") || strings.Contains(e.Message, "refused") {
		t.Errorf("list with the requests table down: %v", err)
	}
}
