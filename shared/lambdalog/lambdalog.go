// Package lambdalog is the structured log every function writes: JSON
// lines on stdout (CloudWatch Logs), with the invocation's request id.
// Log lines carry ids and counts, never personal data: no address, IP,
// name or message text.
package lambdalog

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns the JSON logger of the running function (LOG_LEVEL=debug
// for more).
func New() *slog.Logger {
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("LOG_LEVEL"), "debug") {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).
		With("function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}

// InvocationID returns the Lambda request id of the running invocation, for
// log lines, or "" outside Lambda.
func InvocationID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}
