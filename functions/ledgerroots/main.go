// Command ledgerroots serves GET /.well-known/ledger/roots: the ledger's
// sealed days, each day's signed root, a page at a time. It reads the
// roots table and nothing else. It only wires; the logic is in
// shared/ledger.
package main

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/ledger"
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
		err = lambdaenv.Require(map[string]string{"LEDGER_ROOTS_TABLE": env.Tables.LedgerRoots})
	}
	if err != nil {
		return err
	}
	store := dynamo.New(env.DynamoDB(), env.Tables)
	rt := httpapi.NewRouter(log, httpapi.Site{PolicyURL: env.PolicyURL}, nil)
	rt.Handle("GET /.well-known/ledger/roots", func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		page, err := ledger.RootsPage(ctx, store, httpapi.Query(r, "after"), httpapi.Query(r, "limit"))
		if errors.Is(err, ledger.ErrBadQuery) {
			return httpapi.Response{}, &httpapi.Error{Status: http.StatusBadRequest, Code: "validation_failed", Message: err.Error()}
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		resp := httpapi.JSON(http.StatusOK, page)
		resp.Headers["Cache-Control"] = "public, max-age=300"
		return resp, nil
	})
	lambda.Start(apigw.Handler(rt.Serve))
	return nil
}
