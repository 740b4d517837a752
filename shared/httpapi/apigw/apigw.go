// Package apigw is the edge of the functions API Gateway invokes: it
// turns an HTTP API event (payload 2.0) into an httpapi.Request, once,
// and an httpapi.Response back into the event's response; it tells an
// HTTP event from the others a function takes (a Lambda authorizer's, an
// SNS subscription's). It is the only package of shared/ that knows
// aws-lambda-go's HTTP types: httpapi and the services' adapter files see
// only plain values. (Stream and queue events: shared/batch.)
package apigw

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
)

// Request is ev as httpapi takes it.
func Request(ev events.APIGatewayV2HTTPRequest) httpapi.Request {
	r := httpapi.Request{RouteKey: ev.RouteKey, Method: ev.RequestContext.HTTP.Method, Path: ev.RawPath, RawQuery: ev.RawQueryString,
		Params: ev.PathParameters, Query: ev.QueryStringParameters, Headers: ev.Headers, Cookies: ev.Cookies,
		Body: ev.Body, Base64: ev.IsBase64Encoded, SourceIP: ev.RequestContext.HTTP.SourceIP,
		RequestID: ev.RequestContext.RequestID}
	if a := ev.RequestContext.Authorizer; a != nil {
		r.Authorizer = a.Lambda
		if a.IAM != nil {
			r.Caller = a.IAM.UserARN
		}
	}
	return r
}

// Response is r as API Gateway takes it.
func Response(r httpapi.Response) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: r.StatusCode, Headers: r.Headers, Cookies: r.Cookies, Body: r.Body}
}

// Handler is the Lambda handler of a function API Gateway invokes: each
// event is served as its request (httpapi.Router.Serve).
func Handler(serve func(context.Context, httpapi.Request) httpapi.Response) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return Response(serve(ctx, Request(ev))), nil
	}
}

// HTTPOr is the handler of a function API Gateway and another source
// invoke: an event with a route key is an HTTP request, served; any other
// goes to other (feedback's SNS subscription), which reads it itself.
func HTTPOr(serve func(context.Context, httpapi.Request) httpapi.Response,
	other func(context.Context, json.RawMessage) (any, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("unreadable event: %w", err)
		}
		if ev.RouteKey == "" {
			return other(ctx, raw)
		}
		return Response(serve(ctx, Request(ev))), nil
	}
}

// AuthorizerOr is the handler of a function that is both an HTTP API's
// Lambda authorizer (payload 2.0, simple responses) and the server of some
// routes: an authorizer's event (type REQUEST, with the route's ARN) goes
// to authorize, any other is an HTTP request, served.
func AuthorizerOr(authorize func(context.Context, httpapi.AuthorizerRequest) httpapi.AuthorizerResponse,
	serve func(context.Context, httpapi.Request) httpapi.Response) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Type     string `json:"type"`
			RouteArn string `json:"routeArn"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("event: %w", err)
		}
		if probe.Type == "REQUEST" && probe.RouteArn != "" {
			var ev events.APIGatewayV2CustomAuthorizerV2Request
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("authorizer event: %w", err)
			}
			a := authorize(ctx, httpapi.AuthorizerRequest{RouteKey: ev.RouteKey, Cookies: ev.Cookies, RequestID: ev.RequestContext.RequestID})
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: a.IsAuthorized, Context: a.Context}, nil
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("http event: %w", err)
		}
		return Response(serve(ctx, Request(ev))), nil
	}
}
