package preferences_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/preferences"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

// The links of every marketing email, through the router as the function
// serves them: the preferences read and change a subscriber's topics, a
// GET changes nothing, one click unsubscribes (idempotent), bad input and
// a token for another purpose change nothing, and no address is logged.
func TestPreferences(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Subjects: tables["SubjectsTable"], Ledger: tables["LedgerTable"],
		Suppression: tables["SuppressionTable"]})
	ctx := context.Background()
	now := time.Now().UTC()
	h, _ := privacy.NewHasher([]byte("preferences-test-pepper-0123456789"))
	tokens, _ := token.New([]byte("preferences-test-token-key-012345678"))
	email := "reader-" + localtest.Unique() + "@example.com"
	sub := h.Subject(email)
	e := privacy.Event{Subject: sub, Name: "subscribe_requested", At: now, Ref: "s1"}
	if _, err := store.RequestSubscription(ctx, privacy.PendingSignup{Sub: privacy.Signup{Email: email,
		Topics: []string{"newsletter", "events"}}, Subject: sub, ID: "s1", Event: e}); err != nil {
		t.Fatal(err)
	}
	e.Name = "subscription_confirmed"
	if _, err := store.ConfirmSubscription(ctx, sub, "s1", e); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	hs := &preferences.Handlers{Store: store, Tokens: tokens, Now: time.Now, Log: log}
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: "https://example.com/policy"}, pages.Error)
	rt.InForce(privacy.FixedPolicy("v-test"))
	hs.Routes(rt)
	tok := func(p token.Purpose) string {
		s, err := tokens.Sign(token.Claims{Purpose: p, Subject: sub, Expires: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	prefs, unsub := tok(token.Preferences), tok(token.Unsubscribe)
	call := func(method, path, tk, ctype, body string, html bool) events.APIGatewayV2HTTPResponse {
		t.Helper()
		hdr := map[string]string{"content-type": ctype}
		if html {
			hdr["accept"] = "text/html"
		}
		resp, err := apigw.Handler(rt.Serve)(ctx, events.APIGatewayV2HTTPRequest{RouteKey: method + " " + path, RawPath: path, Body: body,
			Headers: hdr, QueryStringParameters: map[string]string{"token": tk}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	topics := func() (string, []string) {
		t.Helper()
		s, err := store.Subscription(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status, s.Topics
	}

	resp := call("GET", "/v1/preferences", prefs, "", "", false)
	var got struct {
		EmailMasked string          `json:"email_masked"`
		Status      string          `json:"status"`
		Topics      map[string]bool `json:"topics"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &got) != nil || got.Status != privacy.StatusConfirmed ||
		!got.Topics["newsletter"] || !got.Topics["events"] || got.Topics["product_updates"] ||
		got.EmailMasked != privacy.MaskEmail(email) || strings.Contains(resp.Body, email) {
		t.Fatalf("preferences: %d %s", resp.StatusCode, resp.Body)
	}
	page := call("GET", "/v1/preferences", prefs, "", "", true)
	if page.StatusCode != 200 || !strings.Contains(page.Body, "v-test") || strings.Contains(page.Body, email) ||
		!strings.Contains(page.Body, `value="events"`) {
		t.Fatalf("preferences page: %d", page.StatusCode)
	}
	// Opening the unsubscribe link changes nothing.
	if resp := call("GET", "/v1/unsubscribe", unsub, "", "", true); resp.StatusCode != 200 {
		t.Fatalf("unsubscribe page: %d", resp.StatusCode)
	}
	if st, tp := topics(); st != privacy.StatusConfirmed || len(tp) != 2 {
		t.Fatalf("a GET changed the subscription: %s %v", st, tp)
	}

	// Bad input, or a token for another purpose, changes nothing.
	for _, bad := range []struct {
		tk, ctype, body string
		status          int
	}{
		{prefs, "application/json", `{"topics":["newsletter","gossip"]}`, http.StatusBadRequest},
		{prefs, "application/json", `{}`, http.StatusBadRequest},
		{prefs, "application/json", `{"topics":`, http.StatusBadRequest},
		{unsub, "application/json", `{"topics":["events"]}`, http.StatusBadRequest},
		{"forged", "application/json", `{"topics":["events"]}`, http.StatusBadRequest},
	} {
		if resp := call("POST", "/v1/preferences", bad.tk, bad.ctype, bad.body, false); resp.StatusCode != bad.status {
			t.Errorf("POST %s: %d %s, want %d", bad.body, resp.StatusCode, resp.Body, bad.status)
		}
	}
	if st, tp := topics(); st != privacy.StatusConfirmed || len(tp) != 2 {
		t.Fatalf("bad input changed the subscription: %s %v", st, tp)
	}

	// A change of topics, from JSON and from the page's form.
	if resp := call("POST", "/v1/preferences", prefs, "application/json", `{"topics":["events"]}`, false); resp.StatusCode != 200 {
		t.Fatalf("set topics: %d %s", resp.StatusCode, resp.Body)
	}
	if _, tp := topics(); !slices.Equal(tp, []string{"events"}) {
		t.Fatalf("topics %v, want [events]", tp)
	}
	if resp := call("POST", "/v1/preferences", prefs, "application/x-www-form-urlencoded", "topics=newsletter&topics=product_updates",
		true); resp.StatusCode != 200 {
		t.Fatalf("set topics from the page: %d", resp.StatusCode)
	}
	if _, tp := topics(); len(tp) != 2 || !slices.Contains(tp, "newsletter") || !slices.Contains(tp, "product_updates") {
		t.Fatalf("topics %v after the page's form", tp)
	}

	// One click: everything off, suppressed, twice the same.
	for range 2 {
		if resp := call("POST", "/v1/unsubscribe", unsub, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click",
			false); resp.StatusCode != 200 {
			t.Fatalf("one-click unsubscribe: %d %s", resp.StatusCode, resp.Body)
		}
	}
	if st, _ := topics(); st != privacy.StatusUnsubscribed {
		t.Fatalf("status %s after unsubscribing", st)
	}
	if reasons, _ := store.Suppressions(ctx, sub); !slices.Contains(reasons, privacy.SuppressUnsubscribed) {
		t.Fatalf("suppressions %v", reasons)
	}
	// No topics to set once unsubscribed: signing up again is the way back.
	if resp := call("POST", "/v1/preferences", prefs, "application/json", `{"topics":["events"]}`, false); resp.StatusCode != http.StatusConflict {
		t.Fatalf("topics after unsubscribing: %d", resp.StatusCode)
	}
	var names []string
	ledger, _ := store.SubjectLedger(ctx, sub)
	for _, l := range ledger {
		names = append(names, string(l.Name))
	}
	if n := strings.Count(strings.Join(names, ","), "preferences_changed"); n != 2 || !slices.Contains(names, "unsubscribed") {
		t.Errorf("ledger %v", names)
	}
	if strings.Contains(logs.String(), email) {
		t.Error("an address was logged")
	}
}
