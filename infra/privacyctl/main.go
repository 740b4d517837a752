// Command privacyctl is the privacy team's operator command. It acts with
// the caller's AWS credentials, so IAM decides who may do what; with
// -endpoint it works against DynamoDB Local.
//
//	privacyctl terminate-client -email contact@client.example
//
// starts the 12-month deletion clock for a terminated client's data, as the
// policy promises "upon written request".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "terminate-client" {
		fmt.Fprintln(os.Stderr, "usage: privacyctl terminate-client -email ADDRESS [-reference TEXT] [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("terminate-client", flag.ExitOnError)
	email := fs.String("email", "", "the client contact's address")
	ref := fs.String("reference", "", "the written request's reference (ticket, letter)")
	endpoint := fs.String("endpoint", os.Getenv("DYNAMODB_ENDPOINT"), "DynamoDB endpoint (DynamoDB Local in development)")
	subjects := fs.String("subjects-table", envOr("SUBJECTS_TABLE", "dev-SubjectsTable"), "subjects table name")
	ledger := fs.String("ledger-table", envOr("LEDGER_TABLE", "dev-LedgerTable"), "ledger table name")
	secretArn := fs.String("secret-arn", os.Getenv("SECRET_ARN"), "the stack's AppSecret ARN (else LOCAL_SECRET is used)")
	policy := fs.String("policy-version", envOr("POLICY_VERSION", "2018-07-10"), "privacy policy version")
	_ = fs.Parse(os.Args[2:])
	if err := run(*email, *ref, *endpoint, *subjects, *ledger, *secretArn, *policy); err != nil {
		fmt.Fprintln(os.Stderr, "privacyctl:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func run(email, ref, endpoint, subjects, ledger, secretArn, policyVersion string) error {
	ctx := context.Background()
	email = privacy.NormalizeEmail(email)
	if !privacy.ValidEmail(email) {
		return fmt.Errorf("-email must be a valid address")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	master := os.Getenv("LOCAL_SECRET")
	if secretArn != "" {
		out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretArn})
		if err != nil {
			return fmt.Errorf("read secret: %w", err)
		}
		master = aws.ToString(out.SecretString)
	}
	if master == "" {
		master = "local-development-secret-not-for-production-use" // the local gateway's default
	}
	h, err := privacy.NewHasher(lambdaenv.DeriveSecrets(master).SubjectPepper)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	subject := h.Subject(email)
	now := time.Now()
	n, err := dynamo.New(db, dynamo.Tables{Subjects: subjects, Ledger: ledger}).MarkClientTerminated(ctx, subject,
		dynamo.Event{Subject: subject, Name: "client_termination_requested", At: now, Ref: ref,
			LegalBasis: privacy.BasisLegalObligation, PolicyVersion: policyVersion})
	if err != nil {
		return err
	}
	fmt.Printf("%d records marked; the retention sweep deletes them after %s\n", n,
		privacy.Retention.ClientTermination.From(now).Format("2 January 2006"))
	return nil
}
