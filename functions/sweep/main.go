// Command sweep enforces the retention policy on a schedule: it deletes or
// strips every record past its period. It only wires; the logic is in
// shared/sweep and the policy in shared/privacy/retention.go.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sweep"
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
	ctx := context.Background()
	log := lambdalog.New()
	env, err := lambdaenv.Load(ctx)
	if err == nil {
		err = lambdaenv.Require(map[string]string{"SUBJECTS_TABLE": env.Tables.Subjects, "LEDGER_TABLE": env.Tables.Ledger,
			"REQUESTS_TABLE": env.Tables.Requests, "PLATFORM_REQUESTS_TABLE": env.Tables.PlatformRequests, "OPS_TABLE": env.Tables.Ops, "RECORDS_TABLE": env.Tables.Records,
			"SUPPRESSION_TABLE": env.Tables.Suppression})
	}
	if err != nil {
		return err
	}
	s := &sweep.Sweeper{
		Store: &dynamo.Sweep{DB: env.DynamoDB(), Tables: map[privacy.Table]string{privacy.TableSubjects: env.Tables.Subjects,
			privacy.TableLedger: env.Tables.Ledger, privacy.TableRequests: env.Tables.Requests, privacy.TableOps: env.Tables.Ops,
			privacy.TablePlatformRequests: env.Tables.PlatformRequests, privacy.TableSuppression: env.Tables.Suppression}},
		Classes:     privacy.RetentionClasses(),
		Controllers: dynamo.New(env.DynamoDB(), env.Tables),
		Workers:     4,
		PageSize:    500,
		Now:         time.Now,
		Log:         log,
	}
	lambda.Start(s.Handle)
	return nil
}
