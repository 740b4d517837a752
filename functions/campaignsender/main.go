// Command campaignsender mails the batches the campaign planner queues: it
// runs on the campaign queue (SQS), at its share of the campaign send rate
// (CAMPAIGN_SEND_RATE a second across CAMPAIGN_SENDERS concurrent
// senders; a rate of 0 takes 80% of the account's SES maximum send rate,
// leaving the rest to the mailer), and reports each batch that must come
// back. It only wires; the logic is in shared/campaign.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/ses"
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
	env, keys, err := lambdaenv.Start(ctx, "SUBJECTS_TABLE", "SUPPRESSION_TABLE", "OPS_TABLE", "SENDER_ADDRESS", "PUBLIC_BASE_URL",
		"POLICY_VERSION")
	if err != nil {
		return err
	}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		return err
	}
	lease, err := lambdaenv.Seconds("MAIL_LEASE_SECONDS", 2*time.Minute)
	if err != nil {
		return err
	}
	senders := 2
	if err := lambdaenv.Ints(map[string]*int{"CAMPAIGN_SENDERS": &senders}); err != nil {
		return err
	}
	total, err := lambdaenv.Float("CAMPAIGN_SEND_RATE", 0)
	if err != nil {
		return err
	}
	client := ses.NewClient(env.AWS, env.SESEndpoint)
	rate, err := campaign.SenderRate(ctx, total, senders, lease,
		func(ctx context.Context) (float64, error) { return ses.MaxSendRate(ctx, client) })
	if err != nil {
		return err
	}
	log.Info("campaign send rate", "per_second", rate, "senders", senders)
	store := dynamo.New(env.DynamoDB(), env.Tables)
	s := &campaign.Sender{
		Store:  store,
		Mail:   &ses.Sender{Client: client, From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Tokens: keys.Tokens,
		Config: notify.Config{Company: env.Company, TeamInbox: env.TeamInbox, PolicyURL: env.PolicyURL, BaseURL: env.BaseURL,
			UnsubscribeMailDomain: env.UnsubscribeMailDomain},
		// The footer's "last updated" is the version in force (ops POLICY).
		Policy: policy.NewCache(store, env.PolicyVersion, ttl, log).InForce,
		Pace:   campaign.NewPacer(rate, time.Now),
		Lease:  lease,
		Log:    log,
		Now:    time.Now,
	}
	lambda.Start(batch.Queue(s.Handle))
	return nil
}
