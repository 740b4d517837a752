package httpapi

// AuthorizerRequest is what a Lambda authorizer of an HTTP API (payload
// 2.0) is asked, as apigw.AuthorizerOr reads it from the event: the route
// and the caller's cookies. AuthorizerResponse is its simple response:
// whether the request may pass, and the context the route's handler reads
// (Request.Authorizer). The console's authorizer (shared/session) answers.
type (
	AuthorizerRequest struct {
		RouteKey, RequestID string
		Cookies             []string
	}
	AuthorizerResponse struct {
		IsAuthorized bool
		Context      map[string]any
	}
)
