// Command forms is the Lambda behind the website's forms: POST /v1/contact
// and GET /v1/health. It only wires; the logic is in shared/forms.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/forms"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func main() {
	ctx := context.Background()
	log := lambdaenv.Logger()
	env, err := lambdaenv.Load(ctx)
	if err == nil {
		err = lambdaenv.Require(map[string]string{
			"SUBJECTS_TABLE": env.Tables.Subjects, "LEDGER_TABLE": env.Tables.Ledger,
			"POLICY_VERSION": env.PolicyVersion,
		})
	}
	var secrets lambdaenv.Secrets
	if err == nil {
		secrets, err = env.LoadSecrets(ctx)
	}
	var hasher *privacy.Hasher
	if err == nil {
		hasher, err = privacy.NewHasher(secrets.SubjectPepper)
	}
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	f := &forms.Forms{
		Store:         dynamo.New(env.DynamoDB(), env.Tables),
		Hasher:        hasher,
		PolicyVersion: env.PolicyVersion,
		Now:           time.Now,
		NewID:         uuid.NewString,
		Log:           log,
	}
	rt := httpapi.NewRouter(log)
	f.Routes(rt)
	lambda.Start(rt.Serve)
}
