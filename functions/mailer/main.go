// Command mailer is the Lambda on the subjects and requests tables'
// streams: it sends the emails that stored changes make due; on the ops
// table's stream it tells every change of the processors' registry; on its
// schedule ({"retry_mail": true}) it retries those whose sends failed for a
// reason that passes. It only wires; the logic is in shared/mailer.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/batch"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/mailer"
	"github.com/privacykeeper/privacykeeper/shared/notify"
	"github.com/privacykeeper/privacykeeper/shared/policy"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
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
	env, keys, err := lambdaenv.Start(ctx, "OPS_TABLE", "SENDER_ADDRESS", "TEAM_INBOX", "PUBLIC_BASE_URL")
	if err != nil {
		return err
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	// The receipt key's public half is published before it signs anything.
	secret, err := env.ReceiptKey(ctx)
	if err != nil {
		return fmt.Errorf("receipt key: %w", err)
	}
	signer, err := mailer.PublishedSigner(ctx, secret, store, time.Now())
	if err != nil {
		return fmt.Errorf("receipt key: %w", err)
	}
	cfg := notify.Config{Company: env.Company, TeamInbox: env.TeamInbox, PolicyURL: env.PolicyURL, BaseURL: env.BaseURL,
		UnsubscribeMailDomain: env.UnsubscribeMailDomain}
	ttl, err := lambdaenv.PolicyCacheTTL()
	if err != nil {
		return err
	}
	m := &mailer.Mailer{
		Markers:  store,
		Requests: store,
		// Restrictions read the subjects table (GetItem on HOLD#RESTRICTION).
		Restrictions: store,
		// Suppressions read the suppression table (Query on the subject).
		Suppressions: store,
		// An inquiry's and a site rights request's ledger entry, from its
		// stream record (PutItem on the ledger, held to an entry's
		// attributes); the hasher keys those a request names.
		Ledger: store,
		Hasher: keys.Hasher,
		Sender: &ses.Sender{Client: ses.NewClient(env.AWS, env.SESEndpoint), From: env.Sender, ConfigurationSet: env.ConfigurationSet},
		Config: cfg,
		Tokens: keys.Tokens,
		// Every email shows the "Last updated" day of the version in force.
		Policy: policy.NewCache(store, env.PolicyVersion, ttl, log).InForce,
		Receipts: &receipt.Issuer{Signer: signer, PolicyURL: env.PolicyURL, Now: time.Now,
			Controller: receipt.Controller{Name: env.Company, Email: env.TeamInbox, URL: env.PolicyURL}},
		Log:     log,
		Now:     time.Now,
		Retries: store,
		GiveUp:  3 * 24 * time.Hour,
		// A processor told by email gets one email a period at most, at the
		// contact address registered when it is sent (GetItem of PROC#'s
		// contact_email alone; once removed, of PROC#CONTACT's).
		Mailboxes: store,
		Contacts:  store,
	}
	// MAIL_LEASE_SECONDS (default 120) is how long a claimed send is
	// protected from a second mailer: after a crash mid-send, that email
	// is retried once the lease has run out.
	m.Lease, err = lambdaenv.Seconds("MAIL_LEASE_SECONDS", 2*time.Minute)
	if err == nil {
		m.RetryBackoff, err = lambdaenv.Duration("MAIL_RETRY_BACKOFF", time.Minute)
	}
	if err == nil {
		m.RetryMaxBackoff, err = lambdaenv.Duration("MAIL_RETRY_MAX_BACKOFF", time.Hour)
	}
	if err == nil {
		m.AddressChangeWait, err = lambdaenv.Duration("ADDRESS_CHANGE_WAIT", privacy.AddressChangeWait)
	}
	if err == nil {
		m.ProcessorEvery, err = lambdaenv.Duration("PROCESSOR_MAIL_EVERY", time.Hour)
	}
	if err != nil {
		return err
	}
	// The ops table's stream (its processors' registry items alone):
	// every registry change told to the team, the former contact and the
	// ledger, whoever wrote it.
	w := &mailer.Watch{Mailer: m, Registry: store}
	lambda.Start(batch.StreamOr(dynamo.DecodeChange, w.Handle, m.Scheduled))
	return nil
}
