// Command campaign sends one marketing email to the confirmed subscribers
// of a topic. The team invokes it with the campaign as the event:
//
//	{"campaign_id": "2026-12-newsletter", "topic": "newsletter", "subject": "...", "body": "..."}
//
// It only wires; the logic is in shared/campaign.
package main

import (
	"context"
	"os"
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

func main() {
	ctx := context.Background()
	log := lambdalog.New()
	env, keys, err := lambdaenv.Start(ctx, "SUBJECTS_TABLE", "SUPPRESSION_TABLE", "OPS_TABLE", "SENDER_ADDRESS", "PUBLIC_BASE_URL",
		"POLICY_VERSION")
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		log.Error("cold start failed", "error", err.Error())
		os.Exit(1)
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	s := &campaign.Sender{
		Store:  store,
		Mail:   &ses.Sender{Client: ses.NewClient(env.AWS, env.SESEndpoint), From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Tokens: keys.Tokens,
		Config: notify.Config{Company: env.Company, TeamInbox: env.TeamInbox, PolicyURL: env.PolicyURL, BaseURL: env.BaseURL},
		// The footer's "last updated" is the version in force (ops POLICY).
		Policy: policy.NewCache(store, env.PolicyVersion, ttl, log).InForce,
		Log:    log,
		Now:    time.Now,
	}
	lambda.Start(s.Send)
}
