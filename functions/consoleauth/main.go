// Command consoleauth is the console's door: its Lambda authorizer, which
// admits a request whose session cookie holds a valid ID token of the
// console's user pool (issuer, audience, expiry, signature by the pool's
// JWKS) for a member of the privacy team or its viewers and hands the
// console who that is, and signing in (the authorization-code flow with
// PKCE) and out. It reads no table and no secret. It only wires; the
// logic is in shared/session.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/session"
)

func main() {
	log := lambdalog.New()
	provider := session.NewProvider(os.Getenv("CONSOLE_ISSUER"), os.Getenv("CONSOLE_CLIENT_ID"))
	provider.UserInfoURL = os.Getenv("CONSOLE_USERINFO_URL")
	rt := httpapi.NewRouter(log, httpapi.Site{}, nil)
	(&session.SignIn{Provider: provider, BaseURL: os.Getenv("PUBLIC_BASE_URL"), LogoutURL: os.Getenv("CONSOLE_LOGOUT_URL"),
		RevokeURL: os.Getenv("CONSOLE_REVOKE_URL"), Log: log}).Routes(rt)
	lambda.Start(session.Handler(&session.Authorizer{Provider: provider, Log: log}, rt))
}
