package apigw_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
)

// An event becomes the request the handlers read, every part of it the
// handlers use, and a response the event's answer.
func TestRequestAndResponse(t *testing.T) {
	ev := events.APIGatewayV2HTTPRequest{RouteKey: "POST /v1/rights-requests/{id}/verify", RawPath: "/v1/rights-requests/r1/verify",
		PathParameters: map[string]string{"id": "r1"}, QueryStringParameters: map[string]string{"token": "t"},
		RawQueryString: "token=t", Headers: map[string]string{"content-type": "application/json"}, Cookies: []string{"a=b"}, Body: "e30=", IsBase64Encoded: true}
	ev.RequestContext.HTTP.Method, ev.RequestContext.HTTP.SourceIP, ev.RequestContext.RequestID = "POST", "192.0.2.1", "req-1"
	iam := ev
	iam.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::1:user/dpo"}}
	lambda := ev
	lambda.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		Lambda: map[string]any{"by": "m@example.com", "role": "team"}}
	base := httpapi.Request{RouteKey: ev.RouteKey, Method: "POST", Path: ev.RawPath, RawQuery: "token=t", Params: ev.PathParameters,
		Query: ev.QueryStringParameters, Headers: ev.Headers, Cookies: ev.Cookies, Body: "e30=", Base64: true,
		SourceIP: "192.0.2.1", RequestID: "req-1"}
	withCaller, withContext := base, base
	withCaller.Caller = "arn:aws:iam::1:user/dpo"
	withContext.Authorizer = map[string]any{"by": "m@example.com", "role": "team"}
	tests := []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
		want httpapi.Request
	}{{"no authorizer", ev, base}, {"IAM", iam, withCaller}, {"a Lambda authorizer", lambda, withContext}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apigw.Request(tt.ev); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	resp := apigw.Response(httpapi.Response{StatusCode: 303, Headers: map[string]string{"Location": "/x"}, Cookies: []string{"c=d"}, Body: "b"})
	if want := (events.APIGatewayV2HTTPResponse{StatusCode: 303, Headers: map[string]string{"Location": "/x"},
		Cookies: []string{"c=d"}, Body: "b"}); !reflect.DeepEqual(resp, want) {
		t.Errorf("response %+v, want %+v", resp, want)
	}
}

// A function that takes more than HTTP requests tells them apart: an
// authorizer's event is authorized, an HTTP event served, an SNS event
// handed on.
func TestDispatch(t *testing.T) {
	var got string
	serve := func(_ context.Context, r httpapi.Request) httpapi.Response {
		got = "serve " + r.RouteKey
		return httpapi.Response{StatusCode: 200}
	}
	authorize := func(_ context.Context, a httpapi.AuthorizerRequest) httpapi.AuthorizerResponse {
		got = "authorize " + a.RouteKey + " " + a.RequestID + " " + a.Cookies[0]
		return httpapi.AuthorizerResponse{IsAuthorized: true, Context: map[string]any{"role": "team"}}
	}
	other := func(context.Context, json.RawMessage) (any, error) {
		got = "other"
		return nil, nil
	}
	authEvent := `{"version":"2.0","type":"REQUEST","routeArn":"arn:aws:execute-api:r:1:a/s/GET/console","routeKey":"GET /console",` +
		`"cookies":["s=1"],"requestContext":{"requestId":"q1"}}`
	httpEvent := `{"version":"2.0","routeKey":"GET /console/login","rawPath":"/console/login"}`
	tests := []struct {
		name    string
		handler func(context.Context, json.RawMessage) (any, error)
		event   string
		want    string
		answer  any
	}{
		{"authorizer's event", apigw.AuthorizerOr(authorize, serve), authEvent, "authorize GET /console q1 s=1",
			events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{"role": "team"}}},
		{"sign-in page", apigw.AuthorizerOr(authorize, serve), httpEvent, "serve GET /console/login",
			events.APIGatewayV2HTTPResponse{StatusCode: 200}},
		{"HTTPS subscription", apigw.HTTPOr(serve, other), httpEvent, "serve GET /console/login",
			events.APIGatewayV2HTTPResponse{StatusCode: 200}},
		{"SNS event", apigw.HTTPOr(serve, other), `{"Records":[{"EventSource":"aws:sns"}]}`, "other", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = ""
			answer, err := tt.handler(context.Background(), json.RawMessage(tt.event))
			if err != nil || got != tt.want || !reflect.DeepEqual(answer, tt.answer) {
				t.Errorf("%q %+v (%v), want %q %+v", got, answer, err, tt.want, tt.answer)
			}
		})
	}
}
