// Command opendsrworker fulfils OpenDSR requests on a schedule, once their
// cancel window is over, on the requesting controller's records only, and
// finishes attempts that failed. It only wires; the logic is in
// shared/processor.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/processor"
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
		err = lambdaenv.Require(map[string]string{"REQUESTS_TABLE": env.Tables.Requests, "RECORDS_TABLE": env.Tables.Records})
	}
	var lease time.Duration
	if err == nil {
		// Longer than the function's timeout: a live attempt is never
		// taken over, only one that failed or died.
		lease, err = lambdaenv.Duration("OPENDSR_WORKER_LEASE", 10*time.Minute)
	}
	if err != nil {
		return err
	}
	w := &processor.Worker{
		Store: dynamo.New(env.DynamoDB(), env.Tables),
		Lease: lease,
		Now:   time.Now,
		Log:   log,
	}
	lambda.Start(w.Run)
	return nil
}
