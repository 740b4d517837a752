// Command mailer is the Lambda on the subjects table's stream: it sends the
// emails that stored changes make due. It only wires; the logic is in
// shared/mailer.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/ses"
)

func main() {
	ctx := context.Background()
	log := lambdaenv.Logger()
	env, err := lambdaenv.Load(ctx)
	if err == nil {
		err = lambdaenv.Require(map[string]string{
			"OPS_TABLE": env.Tables.Ops, "SENDER_ADDRESS": env.Sender, "TEAM_INBOX": env.TeamInbox,
		})
	}
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	m := &mailer.Mailer{
		Markers: dynamo.New(env.DynamoDB(), env.Tables),
		Sender:  &ses.Sender{Client: env.SES(), From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Config:  notify.Config{Company: env.Company, TeamInbox: env.TeamInbox, PolicyURL: env.PolicyURL},
		Log:     log,
		Now:     time.Now,
		Lease:   2 * time.Minute,
	}
	lambda.Start(m.Handle)
}
