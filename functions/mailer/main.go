// Command mailer is the Lambda on the subjects table's stream: it sends the
// emails that stored changes make due. It only wires; the logic is in
// shared/mailer.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/ses"
)

func main() {
	ctx := context.Background()
	log := lambdaenv.Logger()
	env, keys, err := lambdaenv.Start(ctx, "OPS_TABLE", "SENDER_ADDRESS", "TEAM_INBOX", "PUBLIC_BASE_URL")
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	m := &mailer.Mailer{
		Markers:  store,
		Requests: store,
		// Restrictions read the subjects table (GetItem on HOLD#RESTRICTION).
		Restrictions: store,
		Sender:       &ses.Sender{Client: env.SES(), From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Config:       env.Notify(),
		Tokens:       keys.Tokens,
		Log:          log,
		Now:          time.Now,
		Lease:        lease(),
	}
	lambda.Start(m.Handle)
}

// lease is how long a claimed send is protected from a second mailer
// (MAIL_LEASE_SECONDS, default 120): after a crash mid-send, that email is
// retried once the lease has run out.
func lease() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("MAIL_LEASE_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 2 * time.Minute
}
