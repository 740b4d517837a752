package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// TestWriteRouteLimits: the contact form and rights-request intake tell a
// source IP over its limit (429 with Retry-After) and store nothing for
// it; the contact form is silent about an address over its daily limit
// (202, the message kept for the team, no acknowledgement), so it cannot
// flood an inbox, nor silence the person.
func TestWriteRouteLimits(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	inquiries := func() int {
		n := 0
		for _, it := range s.items(t, "SubjectsTable") {
			if str(it, "kind") == "inquiry" {
				n++
			}
		}
		return n
	}
	retryAfter := func(name string, code int, h string, out string) {
		t.Helper()
		secs, err := strconv.Atoi(h)
		if code != 429 || err != nil || secs < 1 || secs > 3600 || !strings.Contains(out, `"rate_limited"`) {
			t.Fatalf("%s: %d Retry-After %q %s", name, code, h, out)
		}
	}

	// Per IP: 10 inquiries an hour from one address of the network.
	ip := clientFrom("127.0.0.91")
	for i := 0; i < 10; i++ {
		if resp, out := s.doWith(t, ip, "POST", "/v1/contact", "application/json", contactBody(fmt.Sprintf("ip%d-%s@example.com", i, u)), nil); resp.StatusCode != 202 {
			t.Fatalf("contact %d: %d %s", i, resp.StatusCode, out)
		}
	}
	resp, out := s.doWith(t, ip, "POST", "/v1/contact", "application/json", contactBody("ip10-"+u+"@example.com"), nil)
	retryAfter("contact per IP", resp.StatusCode, resp.Header.Get("Retry-After"), out)
	if n := inquiries(); n != 10 {
		t.Fatalf("%d inquiries stored, want 10", n)
	}
	// Another IP is not affected.
	if resp, _ := s.do(t, "POST", "/v1/contact", "application/json", contactBody("other-"+u+"@example.com"), nil); resp.StatusCode != 202 {
		t.Fatal("a second IP was limited by the first one's use")
	}

	// Per address: 5 acknowledgements a day, whatever the IP; the 6th
	// message is answered alike and kept (the team is told: a stranger
	// writing as the person cannot silence the person's own message), but
	// not acknowledged.
	flooded := "flooded-" + u + "@example.com"
	for i := 0; i < 6; i++ {
		c := clientFrom(fmt.Sprintf("127.0.1.%d", 10+i))
		if resp, out := s.doWith(t, c, "POST", "/v1/contact", "application/json", contactBody(flooded), nil); resp.StatusCode != 202 || !strings.Contains(out, `"received"`) {
			t.Fatalf("contact to one address #%d: %d %s", i+1, resp.StatusCode, out)
		}
	}
	if n := inquiries(); n != 10+1+6 {
		t.Fatalf("%d inquiries stored, want 17", n)
	}
	localtest.WaitEmails(t, s.svc, 5, 30*time.Second, func(e localtest.Email) bool { return e.To(flooded) })
	s.idle(t) // time for a sixth, if one were due
	if acks := localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(flooded) }); len(acks) != 5 {
		t.Fatalf("%d acknowledgements to the flooded address, want 5", len(acks))
	}

	// Rights requests: 10 an hour per IP, told with 429.
	rip := clientFrom("127.0.0.92")
	for i := 0; i < 10; i++ {
		body := fmt.Sprintf(`{"email":"r%d-%s@example.com","type":"access"}`, i, u)
		if resp, out := s.doWith(t, rip, "POST", "/v1/rights-requests", "application/json", body, nil); resp.StatusCode != 202 {
			t.Fatalf("rights request %d: %d %s", i, resp.StatusCode, out)
		}
	}
	resp, out = s.doWith(t, rip, "POST", "/v1/rights-requests", "application/json", `{"email":"r10-`+u+`@example.com","type":"access"}`, nil)
	retryAfter("rights per IP", resp.StatusCode, resp.Header.Get("Retry-After"), out)
	if n := len(s.items(t, "RequestsTable")); n != 10 {
		t.Fatalf("%d requests stored, want 10", n)
	}
}

// The limits are the operator's to set: template parameters, read by the
// functions at cold start (a company behind one NAT raises them).
func TestLimitsAreParameters(t *testing.T) {
	t.Parallel()
	s := startStackOpts(t, localtest.Need(t), 1, nil, map[string]string{
		"ContactLimitPerIPPerHour": "2", "RightsLimitPerIPPerHour": "25"})
	u := localtest.Unique()
	ip := clientFrom("127.0.0.92")
	for i := 0; i < 3; i++ {
		resp, _ := s.doWith(t, ip, "POST", "/v1/contact", "application/json", contactBody(fmt.Sprintf("p%d-%s@example.com", i, u)), nil)
		if want := map[bool]int{true: 429, false: 202}[i == 2]; resp.StatusCode != want {
			t.Fatalf("contact %d with a limit of 2: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	// Rights requests: 25 an hour from one IP instead of 10.
	for i := 0; i < 12; i++ {
		resp, out := s.doWith(t, ip, "POST", "/v1/rights-requests", "application/json",
			fmt.Sprintf(`{"email":"r%d-%s@example.com","type":"access"}`, i, u), nil)
		if resp.StatusCode != 202 {
			t.Fatalf("rights request %d with a limit of 25: %d %s", i+1, resp.StatusCode, out)
		}
	}
}
