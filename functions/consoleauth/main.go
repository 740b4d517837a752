// Command consoleauth is the console's door: its Lambda authorizer, which
// admits a request whose session cookie holds a valid ID token of the
// console's user pool (issuer, audience, expiry, signature by the pool's
// JWKS) for a member of the privacy team or its viewers, sealed together
// with its live access token at sign-in, and hands the console who that
// is; and signing in (the authorization-code flow with PKCE) and out. It
// reads no table and one secret, the key of that seal. It only wires; the
// logic is in shared/session.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/secret"
	"github.com/privacykeeper/privacykeeper/shared/session"
)

func main() {
	if err := run(); err != nil {
		lambdalog.New().Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
}

// run wires the function and starts it; it returns only when the cold
// start fails.
func run() error {
	log := lambdalog.New()
	binding, err := sessionBinding(context.Background())
	if err != nil {
		return fmt.Errorf("console session key: %w", err)
	}
	provider := session.NewProvider(os.Getenv("CONSOLE_ISSUER"), os.Getenv("CONSOLE_CLIENT_ID"))
	provider.UserInfoURL = os.Getenv("CONSOLE_USERINFO_URL")
	rt := httpapi.NewRouter(log, httpapi.Site{}, nil)
	(&session.SignIn{Provider: provider, Binding: binding, BaseURL: os.Getenv("PUBLIC_BASE_URL"), LogoutURL: os.Getenv("CONSOLE_LOGOUT_URL"),
		RevokeURL: os.Getenv("CONSOLE_REVOKE_URL"), Log: log}).Routes(rt)
	a := &session.Authorizer{Provider: provider, Binding: binding, Log: log}
	lambda.Start(apigw.AuthorizerOr(a.Authorize, rt.Serve))
	return nil
}

// sessionBinding reads the console's session key (ConsoleSessionKey, under
// the function's role; in development without one, CONSOLE_SESSION_KEY).
func sessionBinding(ctx context.Context) (*session.Binding, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	key, err := secret.FromEnv(ctx, cfg, os.Getenv("DEVELOPMENT") == "true", "CONSOLE_SESSION_KEY_SECRET_ARN", "CONSOLE_SESSION_KEY")
	if err != nil {
		return nil, err
	}
	return session.NewBinding([]byte(key))
}
