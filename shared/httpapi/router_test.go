package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// A field error answers with its message in the language asked for
// (English when none is) and, whatever the language, its code and params.
func TestFieldErrorsAnswer(t *testing.T) {
	rt := httpapi.NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), httpapi.Site{}, pages.Error)
	rt.LocalizeFields(pages.Fields)
	rt.Handle("POST /form", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		return httpapi.Response{}, httpapi.Validation(&privacy.ValidationError{Fields: privacy.FieldErrors{
			"name": privacy.TooLong(200), "type": privacy.OneOf("access", "erasure")}})
	})
	tests := []struct {
		acceptLanguage, name, typ string
	}{
		{"", "must be at most 200 characters", "must be one of: access, erasure"},
		{"de-DE,de;q=0.9", "darf höchstens 200 Zeichen lang sein", "muss einer dieser Werte sein: access, erasure"},
		{"fr", "doit comporter au plus 200 caractères", "doit être l’une de ces valeurs: access, erasure"},
	}
	for _, tt := range tests {
		resp := rt.Serve(context.Background(), httpapi.Request{RouteKey: "POST /form",
			Headers: map[string]string{"accept-language": tt.acceptLanguage}})
		var body struct {
			Error struct {
				Fields      map[string]string `json:"fields"`
				FieldErrors map[string]struct {
					Code   string         `json:"code"`
					Params map[string]any `json:"params"`
				} `json:"field_errors"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 400 {
			t.Fatalf("%q: %d %s", tt.acceptLanguage, resp.StatusCode, resp.Body)
		}
		if body.Error.Fields["name"] != tt.name || body.Error.Fields["type"] != tt.typ {
			t.Errorf("%q: messages %v", tt.acceptLanguage, body.Error.Fields)
		}
		name, typ := body.Error.FieldErrors["name"], body.Error.FieldErrors["type"]
		if name.Code != "too_long" || name.Params["max"] != 200.0 || typ.Code != "one_of" ||
			fmt.Sprint(typ.Params["values"]) != "[access erasure]" {
			t.Errorf("%q: codes %s", tt.acceptLanguage, resp.Body)
		}
	}
}

func TestRouterErrors(t *testing.T) {
	rt := httpapi.NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), httpapi.Site{}, pages.Error)
	rt.Handle("POST /ok", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		return httpapi.Response{}, &httpapi.Error{Status: 400, Code: "validation_failed", Message: "m", Fields: privacy.FieldErrors{"a": privacy.TooLong(254)}}
	})
	rt.Handle("POST /down", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		return httpapi.Response{}, errors.New("dial tcp: connection refused")
	})
	resp := rt.Serve(context.Background(), httpapi.Request{RouteKey: "POST /ok"})
	var body struct {
		Error struct {
			Code        string                        `json:"code"`
			Fields      map[string]string             `json:"fields"`
			FieldErrors map[string]privacy.FieldError `json:"field_errors"`
		} `json:"error"`
	}
	// Without a language to render them in, each field's message is its code.
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 400 ||
		body.Error.Code != "validation_failed" || body.Error.Fields["a"] != "too_long" ||
		body.Error.FieldErrors["a"].Code != privacy.FieldTooLong || body.Error.FieldErrors["a"].Params["max"] != 254.0 {
		t.Fatalf("validation answer %d %s", resp.StatusCode, resp.Body)
	}
	resp = rt.Serve(context.Background(), httpapi.Request{RouteKey: "POST /down"})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" ||
		strings.Contains(resp.Body, "connection refused") {
		t.Fatalf("dependency failure answer %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	if !strings.Contains(resp.Body, "Nothing was stored") {
		t.Errorf("a submission's dependency failure does not say nothing was stored: %s", resp.Body)
	}
	// A page's: nothing was to be stored, so the answer does not say so.
	rt.Handle("GET /down", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		return httpapi.Response{}, errors.New("dial tcp: connection refused")
	})
	resp = rt.Serve(context.Background(), httpapi.Request{RouteKey: "GET /down"})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" || strings.Contains(resp.Body, "stored") ||
		strings.Contains(resp.Body, "save") {
		t.Errorf("a page's dependency failure answer %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	resp = rt.Serve(context.Background(), httpapi.Request{RouteKey: "GET /nowhere"})
	if resp.StatusCode != 404 {
		t.Fatalf("unknown route %d", resp.StatusCode)
	}
	resp = rt.Serve(context.Background(), httpapi.Request{RouteKey: "POST /ok", Headers: map[string]string{"accept": "text/html"}})
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Headers["Content-Type"], "text/html") {
		t.Fatalf("browser error answer %d %v", resp.StatusCode, resp.Headers)
	}
	// An API of machines has no pages: a browser gets the JSON body too.
	api := httpapi.NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), httpapi.Site{}, nil)
	resp = api.Serve(context.Background(), httpapi.Request{RouteKey: "GET /nowhere", Headers: map[string]string{"accept": "text/html"}})
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
		t.Fatalf("API error answer to a browser %d %v", resp.StatusCode, resp.Headers)
	}
}

// Every line of a request, the route's own and the router's, carries the
// API Gateway request id as request_id, added by the log's handler from the
// context: no route adds it by hand.
func TestRequestIDOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(lambdalog.NewHandler(slog.NewJSONHandler(&buf, nil)))
	rt := httpapi.NewRouter(log, httpapi.Site{}, nil)
	rt.Handle("POST /v1/contact", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		log.InfoContext(ctx, "inquiry stored")
		return httpapi.JSON(http.StatusAccepted, nil), nil
	})
	ev := events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/contact"}
	ev.RequestContext.RequestID = "apigw-7"
	if _, err := apigw.Handler(rt.Serve)(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the route's line and the router's, got %q", lines)
	}
	for _, l := range lines {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil || line["request_id"] != "apigw-7" {
			t.Errorf("no request_id: %s", l)
		}
	}
}

// Routes answers each route's errors as the service's problem maps them;
// an error it does not know stays a dependency's (503), and a route
// without an error answers as it did.
func TestRoutesMapErrors(t *testing.T) {
	errGone := errors.New("gone")
	problem := func(err error) error {
		if errors.Is(err, errGone) {
			return &httpapi.Error{Status: http.StatusGone, Code: "gone", Message: "m"}
		}
		return err
	}
	rt := httpapi.NewRouter(slog.New(slog.DiscardHandler), httpapi.Site{}, nil)
	rt.Routes(problem, map[string]httpapi.HandlerFunc{
		"GET /gone": func(context.Context, httpapi.Request) (httpapi.Response, error) { return httpapi.Response{}, errGone },
		"GET /down": func(context.Context, httpapi.Request) (httpapi.Response, error) {
			return httpapi.Response{}, errors.New("dial tcp: refused")
		},
		"GET /ok": func(context.Context, httpapi.Request) (httpapi.Response, error) {
			return httpapi.JSON(http.StatusOK, nil), nil
		},
	})
	for route, want := range map[string]int{"GET /gone": http.StatusGone, "GET /down": http.StatusServiceUnavailable, "GET /ok": http.StatusOK} {
		if got := rt.Serve(context.Background(), httpapi.Request{RouteKey: route}).StatusCode; got != want {
			t.Errorf("%s: %d, want %d", route, got, want)
		}
	}
}
