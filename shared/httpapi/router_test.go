package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
)

func TestRouterErrors(t *testing.T) {
	rt := httpapi.NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), httpapi.Site{}, pages.Error)
	rt.Handle("POST /ok", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		return httpapi.Response{}, &httpapi.Error{Status: 400, Code: "validation_failed", Message: "m", Fields: map[string]string{"a": "b"}}
	})
	rt.Handle("POST /down", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		return httpapi.Response{}, errors.New("dial tcp: connection refused")
	})
	resp, _ := rt.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /ok"})
	var body struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 400 ||
		body.Error.Code != "validation_failed" || body.Error.Fields["a"] != "b" {
		t.Fatalf("validation answer %d %s", resp.StatusCode, resp.Body)
	}
	resp, _ = rt.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /down"})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" ||
		strings.Contains(resp.Body, "connection refused") {
		t.Fatalf("dependency failure answer %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	resp, _ = rt.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /nowhere"})
	if resp.StatusCode != 404 {
		t.Fatalf("unknown route %d", resp.StatusCode)
	}
	resp, _ = rt.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "POST /ok", Headers: map[string]string{"accept": "text/html"}})
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Headers["Content-Type"], "text/html") {
		t.Fatalf("browser error answer %d %v", resp.StatusCode, resp.Headers)
	}
	// An API of machines has no pages: a browser gets the JSON body too.
	api := httpapi.NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), httpapi.Site{}, nil)
	resp, _ = api.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /nowhere", Headers: map[string]string{"accept": "text/html"}})
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
		t.Fatalf("API error answer to a browser %d %v", resp.StatusCode, resp.Headers)
	}
}
