package rights_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/privacykeeper/privacykeeper/shared/dynamo/dynamotest"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// A processor's confirmation link minted before the team changed that
// processor's contact address went to the old inbox (it may have changed
// hands): it confirms nothing. One minted after the change (to the new
// contact) still does, and so does one of a processor whose contact never
// changed (review 9, gap B).
func TestProcessorLinkAfterContactChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	changed := f.clock.t
	for _, p := range []string{"moved", "kept"} {
		if err := dynamotest.PutProcessor(ctx, f.store, privacy.Processor{ID: p, Name: p, Contact: "privacy@" + p + ".example"},
			privacy.Event{Subject: privacy.TeamSubject, Name: "processor_registered", At: changed.Add(-60 * 24 * time.Hour),
				Ref: p, LegalBasis: privacy.BasisLegalObligation}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dynamotest.SetProcessorContact(ctx, f.store, "moved", "dpo@moved-privacy.example", privacy.Event{Subject: privacy.TeamSubject,
		Name: "processor_contact_changed", At: changed, Ref: "moved", LegalBasis: privacy.BasisLegalObligation}); err != nil {
		t.Fatal(err)
	}
	f.clock.t = changed.Add(time.Hour) // the click, later
	for _, c := range []struct {
		name      string
		processor string
		minted    time.Time
		want      error
	}{
		{"emailed to the old contact, a day before the change", "moved", changed.Add(-24 * time.Hour), rights.ErrContactChanged},
		{"emailed to the old contact, in the change's second", "moved", changed.Add(-100 * time.Millisecond), rights.ErrContactChanged},
		{"emailed to the new contact, after the change", "moved", changed.Add(2 * time.Second), nil},
		{"a processor whose contact never changed", "kept", changed.Add(-24 * time.Hour), nil},
		{"a processor no longer registered", "gone", changed.Add(-24 * time.Hour), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, err := links.Builder{Base: "https://api.example", Tokens: f.tokens}.ProcessorConfirm(
				privacy.Delivery{RequestID: "req-1", ProcessorID: c.processor}, c.minted)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			err = f.h.CheckProcessor(ctx, rights.ProcessorLink{ID: "req-1", Processor: c.processor, Token: u.Query().Get("token")})
			if !errors.Is(err, c.want) {
				t.Errorf("CheckProcessor = %v, want %v", err, c.want)
			}
			if c.want == nil {
				return
			}
			// Through the routes, GET and POST: a clear 410, nothing changed.
			for _, route := range []string{"GET", "POST"} {
				_, err := f.serve(route+" /v1/rights-requests/{id}/processors/{processor}/confirm", events.APIGatewayV2HTTPRequest{
					PathParameters:        map[string]string{"id": "req-1", "processor": c.processor},
					QueryStringParameters: map[string]string{"token": u.Query().Get("token")}, Headers: map[string]string{}})
				var he *httpapi.Error
				if !errors.As(err, &he) || he.Status != 410 || he.Code != "contact_changed" {
					t.Errorf("%s: %v, want 410 contact_changed", route, err)
				}
			}
		})
	}
}
