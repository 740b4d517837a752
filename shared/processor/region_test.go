package processor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/processor"
)

// A stack serves one region: every route (records, requests of each
// OpenDSR version) refuses a controller of another region with 421 in the
// error body's shape, naming that region's endpoint and the same path, and
// stores nothing; a controller registered before regions is refused (403)
// until its region is recorded, and told its region only once
// authenticated; the stack's own controllers are served.
func TestRegionRefusesOtherRegionsControllers(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	a.svc.Endpoints = map[privacy.Region]string{privacy.RegionEU: "https://platform.eu.example.com"}
	const (
		home      = "us-4e1b2c3d-0000-4000-8000-000000000001"
		away      = "eu-4e1b2c3d-0000-4000-8000-000000000002" // registered in eu: not in this stack's table
		legacy    = "4e1b2c3d-0000-4000-8000-000000000003"    // before regions, none recorded
		legacyEU  = "4e1b2c3d-0000-4000-8000-000000000004"    // before regions, recorded eu
		legacyBad = "4e1b2c3d-0000-4000-8000-000000000005"    // recorded eu; the caller's secret is wrong
	)
	for _, c := range []privacy.Controller{{ID: home, Region: privacy.RegionUS}, {ID: legacy}, {ID: legacyEU, Region: privacy.RegionEU},
		{ID: legacyBad, Region: privacy.RegionEU}} {
		c.Name, c.SecretHash = c.ID, processor.SecretHash(a.hasher, "pw-"+c.ID)
		if c.ID == legacyBad {
			c.SecretHash = processor.SecretHash(a.hasher, "another secret")
		}
		if err := a.store.PutController(ctx, c, privacy.Event{At: a.t0}); err != nil {
			t.Fatal(err)
		}
	}
	identities := `"subject_identities":[{"identity_type":"email","identity_value":"ann@example.com","identity_format":"raw"}]`
	routes := []struct{ method, route, id, body string }{
		{"GET", "/opendsr/v2/discovery", "", ""},
		{"POST", "/opendsr/v1/opengdpr_requests", "", `{"subject_request_id":"%s","subject_request_type":"erasure","submitted_time":"2026-03-01T08:00:00Z",` + identities + `}`},
		{"POST", "/opendsr/v2/requests", "", `{"regulation":"gdpr","subject_request_id":"%s","subject_request_type":"access","submitted_time":"2026-03-01T08:00:00Z",` + identities + `}`},
		{"POST", "/opendsr/v3/requests", "", `{"regulation":"gdpr","subject_request_id":"%s","subject_request_type":"portability","submitted_time":"2026-03-01T08:00:00Z",` +
			`"subject_identities":{"email":{"value":"ann@example.com","encoding":"raw"}}}`},
		{"GET", "/opendsr/v1/opengdpr_requests/{id}", "%s", ""},
		{"GET", "/opendsr/v2/requests/{id}", "%s", ""},
		{"DELETE", "/opendsr/v3/requests/{id}", "%s", ""},
		{"GET", "/opendsr/v3/requests?group_id=g-1", "", ""},
		{"PUT", recordAt, "r-1", recordBody("ann@example.com", `{"plan":"pro"}`)},
		{"GET", recordAt, "r-1", ""},
		{"DELETE", recordAt, "r-1", ""},
		{"GET", resultsAt, "%s", ""},
		{"PUT", "/platform/v1/sensitive_keys", "", `{"keys":["pin"]}`},
		{"GET", "/platform/v1/sensitive_keys", "", ""},
	}
	for n, c := range []struct {
		name, controller string
		want             int // 0: served (anything but a refusal)
		region           string
	}{
		{"this region's", home, 0, ""},
		{"another region's", away, 421, "eu"},
		{"before regions, none recorded", legacy, 403, ""},
		{"before regions, recorded eu", legacyEU, 421, "eu"},
		{"before regions, recorded eu, wrong secret", legacyBad, 401, ""},
	} {
		a.as = c.controller
		for i, r := range routes {
			requestID := fmt.Sprintf("4a7b9c1e-2f3d-4e5a-8b6c-%012d", n*100+i)
			body, id := r.body, r.id
			if strings.Contains(body, "%s") {
				body = fmt.Sprintf(body, requestID)
			}
			if id == "%s" {
				id = requestID
			}
			code, _, out := a.call(r.method, r.route, id, body)
			if r.route == "/opendsr/v2/discovery" {
				if code != 200 || out["region"] != "us" {
					t.Errorf("%s: discovery %d %v, want 200 naming region us", c.name, code, out)
				}
				continue
			}
			refused := code == 401 || code == 403 || code == 421
			if c.want == 0 && refused || c.want != 0 && code != c.want {
				t.Errorf("%s: %s %s: %d %v, want %d", c.name, r.method, r.route, code, out, c.want)
				continue
			}
			if c.want == 0 {
				continue
			}
			e, _ := out["error"].(map[string]any)
			msg, _ := e["message"].(string)
			if e["code"] != float64(c.want) {
				t.Errorf("%s: %s %s: not the specification's error body: %v", c.name, r.method, r.route, out)
			}
			path := strings.NewReplacer("{id}", id, "{record_id}", id).Replace(r.route)
			if c.region == "eu" && !strings.Contains(msg, "region eu") || c.region == "eu" && !strings.Contains(msg, "https://platform.eu.example.com"+path) {
				t.Errorf("%s: %s %s: the refusal does not say where to send it: %q", c.name, r.method, r.route, msg)
			}
			if c.want == 401 && strings.Contains(msg, "eu") {
				t.Errorf("%s: a caller without the secret is told the region: %q", c.name, msg)
			}
			if r.method == "POST" {
				if _, err := a.store.Request(ctx, requestID); !errors.Is(err, privacy.ErrNotFound) {
					t.Errorf("%s: %s %s refused, yet the request is stored (%v)", c.name, r.method, r.route, err)
				}
			}
		}
		if _, err := a.store.GetRecord(ctx, c.controller, "r-1"); c.want != 0 && !errors.Is(err, privacy.ErrNotFound) {
			t.Errorf("%s: refused, yet its record is stored (%v)", c.name, err)
		}
	}
}
