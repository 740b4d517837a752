package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// POST /_local/invoke runs any function with any event: a page of
// another origin (a site the developer visits, the SES emulator's inbox
// showing a stranger's mail on another port) must not reach it from the
// developer's browser. Requests without fetch metadata or an Origin (curl,
// privacyctl, the tests' Go clients) still do.
func TestInvokeRouteRefusesOtherOrigins(t *testing.T) {
	s := &Stack{Functions: map[string]*Function{"SweepFunction": {ID: "SweepFunction"}}}
	h := s.adminHandler()
	for _, tc := range []struct {
		name    string
		host    string
		headers map[string]string
		allowed bool
	}{
		{"curl: no fetch metadata, no Origin", "localhost:3000", nil, true},
		{"a Go client to 127.0.0.1", "127.0.0.1:3000", nil, true},
		{"typed by the developer", "localhost:3000", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"the gateway's own page", "localhost:3000", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost:3000"}, true},
		{"another site's page", "localhost:3000", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, false},
		{"another port of localhost (same site)", "localhost:3000", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:8005"}, false},
		{"cross-site, fetch metadata only", "localhost:3000", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"an older browser: Origin only", "localhost:3000", map[string]string{"Origin": "https://evil.example"}, false},
		{"a sandboxed page: Origin null", "localhost:3000", map[string]string{"Origin": "null"}, false},
		{"a rebound name (DNS rebinding)", "evil.example:3000", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example:3000"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // an invocation that gets through fails at once (502): it never waits for an emulator
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://"+tc.host+"/_local/invoke/SweepFunction", strings.NewReader("{}"))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if refused := w.Code == http.StatusForbidden; refused == tc.allowed {
				t.Fatalf("status %d (%s), want allowed %v", w.Code, w.Body, tc.allowed)
			}
		})
	}
}
