// Command opendsr is the Lambda behind the OpenDSR (OpenGDPR) processor
// API. It only wires; the logic is in shared/processor and shared/opendsr.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/lambdaenv"
	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/opendsr"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
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
	env, keys, err := lambdaenv.Start(ctx, "REQUESTS_TABLE", "RECORDS_TABLE", "OPS_TABLE", "PUBLIC_BASE_URL")
	if err != nil {
		return err
	}
	window, err := lambdaenv.Duration("OPENDSR_CANCEL_WINDOW", 15*time.Minute)
	var erasureWait time.Duration
	if err == nil {
		erasureWait, err = lambdaenv.Duration("OPENDSR_ERASURE_WAITING_PERIOD", 7*24*time.Hour)
	}
	perHour, recordsPerHour := 10000, 100000
	if err == nil {
		err = lambdaenv.Ints(map[string]*int{"OPENDSR_CREATE_PER_HOUR": &perHour, "OPENDSR_RECORD_WRITES_PER_HOUR": &recordsPerHour})
	}
	region, known := privacy.ParseRegion(os.Getenv("PLATFORM_REGION"))
	if err == nil && !known {
		err = fmt.Errorf("PLATFORM_REGION must be one of us, eu")
	}
	var endpoints map[privacy.Region]string
	if err == nil {
		endpoints, err = opendsr.ParseEndpoints(os.Getenv("PLATFORM_ENDPOINTS"))
	}
	if err != nil {
		return err
	}
	s := &processor.Service{
		Store:       dynamo.New(env.DynamoDB(), env.Tables),
		Hasher:      keys.Hasher,
		CertURL:     os.Getenv("OPENDSR_CERTIFICATE_URL"),
		BaseURL:     env.BaseURL,
		Policy:      opendsr.Policy{AllowInsecure: env.InsecureCallbacks(log)},
		Window:      window,
		ErasureWait: erasureWait,
		CreateLimit: limit.Rule{Name: "opendsr_create", Max: perHour, Window: time.Hour},
		RecordLimit: limit.Rule{Name: "opendsr_records", Max: recordsPerHour, Window: time.Hour},
		Region:      region,
		Endpoints:   endpoints,
		Now:         time.Now,
		Log:         log,
	}
	// The signing key (lambdaenv.Env.OpenDSRSigningKey): without a usable one
	// every route answers 503, since an unsigned answer is not one.
	pem, err := env.OpenDSRSigningKey(ctx)
	if err == nil {
		s.Signer, err = opendsr.NewSigner(pem, os.Getenv("OPENDSR_DOMAIN"))
	}
	if err != nil {
		log.Error("no usable OpenDSR signing key: every route answers 503", "error", err.Error())
	}
	rt := httpapi.NewRouter(log, httpapi.Site{}, nil)
	s.Routes(rt)
	lambda.Start(apigw.Handler(rt.Serve))
	return nil
}
