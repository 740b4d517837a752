// Command campaignsender mails the batches the campaign planner queues: it
// runs on the campaign queue (SQS), at its share of the campaign send rate
// (CAMPAIGN_SEND_RATE a second across CAMPAIGN_SENDERS concurrent
// senders; a rate of 0 takes 80% of the account's SES maximum send rate,
// leaving the rest to the mailer), and reports each batch that must come
// back. It only wires; the logic is in shared/campaign.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/campaign"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/ses"
)

// sesShare is the part of the account's SES rate campaigns take when no
// rate is configured.
const sesShare = 0.8

func main() {
	ctx := context.Background()
	log := lambdalog.New()
	fail := func(err error) {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	env, keys, err := lambdaenv.Start(ctx, "SUBJECTS_TABLE", "SUPPRESSION_TABLE", "OPS_TABLE", "SENDER_ADDRESS", "PUBLIC_BASE_URL",
		"POLICY_VERSION")
	if err != nil {
		fail(err)
	}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		fail(err)
	}
	lease, err := lambdaenv.Seconds("MAIL_LEASE_SECONDS", 2*time.Minute)
	if err != nil {
		fail(err)
	}
	senders := 2
	if err := lambdaenv.Ints(map[string]*int{"CAMPAIGN_SENDERS": &senders}); err != nil {
		fail(err)
	}
	client := ses.NewClient(env.AWS, env.SESEndpoint)
	var total float64
	if v := os.Getenv("CAMPAIGN_SEND_RATE"); v != "" {
		if total, err = strconv.ParseFloat(v, 64); err != nil || total < 0 {
			fail(fmt.Errorf("CAMPAIGN_SEND_RATE: %q is not a rate of at least 0", v))
		}
	}
	if total == 0 {
		max, err := ses.MaxSendRate(ctx, client)
		if err != nil {
			fail(err)
		}
		total = max * sesShare
	}
	rate, err := campaign.Share(total, senders)
	if err != nil {
		fail(err)
	}
	if err := campaign.CheckLease(rate, lease); err != nil {
		fail(err)
	}
	log.Info("campaign send rate", "per_second", rate, "senders", senders)
	store := dynamo.New(env.DynamoDB(), env.Tables)
	s := &campaign.Sender{
		Store:  store,
		Mail:   &ses.Sender{Client: client, From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Tokens: keys.Tokens,
		Config: notify.Config{Company: env.Company, TeamInbox: env.TeamInbox, PolicyURL: env.PolicyURL, BaseURL: env.BaseURL},
		// The footer's "last updated" is the version in force (ops POLICY).
		Policy: policy.NewCache(store, env.PolicyVersion, ttl, log).InForce,
		Pace:   campaign.NewPacer(rate, time.Now),
		Lease:  lease,
		Log:    log,
		Now:    time.Now,
	}
	lambda.Start(s.Handle)
}
