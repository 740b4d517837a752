package httpapi

import "github.com/aws/aws-lambda-go/events"

// Event is the HTTP API's request event (payload 2.0), as Router.Serve
// takes it: for a function that tells it from other events itself.
type Event = events.APIGatewayV2HTTPRequest

// AuthorizerRequest is the event of an HTTP API's Lambda authorizer
// (payload 2.0), and AuthorizerResponse its simple response: the console's
// authorizer (shared/session) reads and answers them in its adapter.
type (
	AuthorizerRequest  = events.APIGatewayV2CustomAuthorizerV2Request
	AuthorizerResponse = events.APIGatewayV2CustomAuthorizerSimpleResponse
)
