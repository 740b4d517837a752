package preferences_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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
	"github.com/privacykeeper/privacykeeper/shared/receipt"
)

// The receipts' routes against the keys published in DynamoDB Local: the
// JWKS lists each key once however often it is published; a genuine
// receipt is answered with what it says, a changed one and one of an
// unpublished key are not genuine (200), and text that is no receipt is a
// 400, as JSON and as the page; nothing pasted is logged.
func TestReceiptRoutes(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	tables := localtest.Tables(t, svc)
	store := dynamo.New(localtest.DynamoDB(svc), dynamo.Tables{Ops: tables["OpsTable"]})
	ctx := context.Background()
	old, _ := receipt.NewSigner(strings.Repeat("o", 40))
	cur, _ := receipt.NewSigner(strings.Repeat("c", 40))
	stranger, _ := receipt.NewSigner(strings.Repeat("s", 40))
	for _, s := range []*receipt.Signer{old, cur, cur} { // a rotation, and a second cold start
		p, _ := s.Published(time.Now())
		if err := store.PublishKey(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: "https://example.com/policy", PolicyVersion: "v-test"}, pages.Error)
	(&preferences.Receipts{Keys: store, Log: log}).ReceiptRoutes(rt)
	call := func(method, path, ctype, body string, html bool) events.APIGatewayV2HTTPResponse {
		t.Helper()
		hdr := map[string]string{"content-type": ctype}
		if html {
			hdr["accept"] = "text/html"
		}
		var req events.APIGatewayV2HTTPRequest
		req.RouteKey, req.RawPath, req.Body, req.Headers = method+" "+path, path, body, hdr
		req.RequestContext.HTTP.Method = method
		resp, err := apigw.Handler(rt.Serve)(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := call("GET", "/.well-known/jwks.json", "", "", false)
	var set receipt.JWKS
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &set) != nil || len(set.Keys) != 2 ||
		resp.Headers["Content-Type"] != "application/jwk-set+json" {
		t.Fatalf("jwks: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}

	mine, _ := old.Sign(receipt.Receipt{ID: "r-old", Event: receipt.ConsentGiven, Principal: "ana@example.com"})
	theirs, _ := stranger.Sign(receipt.Receipt{ID: "r-x", Event: receipt.ConsentGiven})
	parts := strings.Split(mine, ".")
	mid := len(parts[1]) / 2
	flip := map[bool]string{true: "B", false: "A"}[parts[1][mid] == 'A']
	changed := parts[0] + "." + parts[1][:mid] + flip + parts[1][mid+1:] + "." + parts[2]
	wrapped := mine[:40] + "\n  " + mine[40:] // as an email client may wrap it
	for _, c := range []struct {
		name, ctype, body string
		status            int
		valid             bool
	}{
		{"a receipt of a rotated key", "application/json", `{"receipt":"` + mine + `"}`, 200, true},
		{"wrapped when pasted", "application/x-www-form-urlencoded", "receipt=" + strings.ReplaceAll(wrapped, "\n", "%0A"), 200, true},
		{"changed", "application/json", `{"receipt":"` + changed + `"}`, 200, false},
		{"an unpublished key", "application/json", `{"receipt":"` + theirs + `"}`, 200, false},
		{"no receipt", "application/json", `{"receipt":"hello"}`, 400, false},
		{"empty", "application/json", `{}`, 400, false},
		{"too long", "application/json", `{"receipt":"` + strings.Repeat("a", preferences.MaxReceipt+1) + `"}`, 400, false},
		{"not JSON", "application/json", `{"receipt":`, 400, false},
	} {
		resp := call("POST", "/v1/receipts/verify", c.ctype, c.body, false)
		var v struct {
			Valid   bool             `json:"valid"`
			Receipt *receipt.Receipt `json:"receipt"`
		}
		if resp.StatusCode != c.status || (c.status == 200 && (json.Unmarshal([]byte(resp.Body), &v) != nil || v.Valid != c.valid)) {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, resp.Body)
		}
		if c.valid && (v.Receipt == nil || v.Receipt.ID != "r-old") {
			t.Errorf("%s: receipt %+v", c.name, v.Receipt)
		}
		page := call("POST", "/v1/receipts/verify", c.ctype, c.body, true)
		if page.StatusCode != c.status || strings.Contains(page.Body, "This receipt is genuine") != c.valid {
			t.Errorf("%s page: %d", c.name, page.StatusCode)
		}
	}
	if page := call("GET", "/v1/receipts/verify", "", "", true); page.StatusCode != 200 || !strings.Contains(page.Body, `name="receipt"`) {
		t.Fatalf("the page to paste into: %d %s", page.StatusCode, page.Body)
	}
	if strings.Contains(logs.String(), "ana@example.com") || strings.Contains(logs.String(), mine[:30]) {
		t.Fatalf("a receipt's contents were logged: %s", logs.String())
	}
}
