// Command preferences is the Lambda behind the links in every marketing
// email: one-click unsubscribe and topic preferences. It only wires; the
// logic is in shared/preferences.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/preferences"
)

func main() {
	ctx := context.Background()
	log := lambdalog.New()
	env, keys, err := lambdaenv.Start(ctx, "SUBJECTS_TABLE", "LEDGER_TABLE", "SUPPRESSION_TABLE", "POLICY_VERSION")
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	h := &preferences.Handlers{
		Store:         dynamo.New(env.DynamoDB(), env.Tables),
		Tokens:        keys.Tokens,
		PolicyVersion: env.PolicyVersion,
		Now:           time.Now,
		Log:           log,
	}
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: env.PolicyURL, PolicyVersion: env.PolicyVersion}, pages.Error)
	h.Routes(rt)
	lambda.Start(rt.Serve)
}
