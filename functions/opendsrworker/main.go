// Command opendsrworker fulfils OpenDSR requests on a schedule, once their
// cancel window is over, and finishes attempts that failed. It only wires;
// the logic is in shared/processor and shared/rights.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/processor"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

func main() {
	ctx := context.Background()
	log := lambdaenv.Logger()
	env, err := lambdaenv.Load(ctx)
	if err == nil {
		err = lambdaenv.Require(map[string]string{"REQUESTS_TABLE": env.Tables.Requests, "SUBJECTS_TABLE": env.Tables.Subjects,
			"LEDGER_TABLE": env.Tables.Ledger, "SUPPRESSION_TABLE": env.Tables.Suppression, "POLICY_VERSION": env.PolicyVersion})
	}
	var lease time.Duration
	if err == nil {
		// Longer than the function's timeout: a live attempt is never
		// taken over, only one that failed or died.
		lease, err = lambdaenv.Duration("OPENDSR_WORKER_LEASE", 10*time.Minute)
	}
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	w := &processor.Worker{
		Store:     store,
		Fulfiller: &rights.Fulfiller{Store: store, PolicyVersion: env.PolicyVersion, Log: log},
		Lease:     lease,
		Now:       time.Now,
		Log:       log,
	}
	lambda.Start(w.Run)
}
