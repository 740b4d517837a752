// Command ledgersigner seals each closed day of the ledger: the day's
// entries' hashes become the leaves of a Merkle tree whose root it signs
// with the receipt key, and keeps in the roots table, which only it
// writes. It only wires; the logic is in shared/ledger.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
	"github.com/privacykeeper/privacykeeper/shared/receipt"
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
		err = lambdaenv.Require(map[string]string{"LEDGER_TABLE": env.Tables.Ledger,
			"LEDGER_ROOTS_TABLE": env.Tables.LedgerRoots, "OPS_TABLE": env.Tables.Ops})
	}
	if err != nil {
		return err
	}
	grace, err := lambdaenv.Duration("LEDGER_SEAL_GRACE", 30*time.Minute)
	if err != nil {
		return err
	}
	secret, err := env.ReceiptKey(ctx)
	if err != nil {
		return fmt.Errorf("receipt key: %w", err)
	}
	signer, err := receipt.NewSigner(secret)
	if err != nil {
		return fmt.Errorf("receipt key: %w", err)
	}
	s := &ledger.Sealer{
		Store:       dynamo.New(env.DynamoDB(), env.Tables),
		Signer:      signer,
		Now:         time.Now,
		Log:         log,
		Grace:       grace,
		MaxRun:      31,
		Development: env.Development,
	}
	lambda.Start(s.Invoke)
	return nil
}
