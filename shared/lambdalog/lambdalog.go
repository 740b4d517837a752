// Package lambdalog is the structured log every function writes: JSON
// lines on stdout (CloudWatch Logs), each with the ids of what it belongs
// to, taken from the context by the handler: invocation_id, the Lambda
// invocation's (AWS request) id, and request_id, the API Gateway id of the
// HTTP request being served (WithRequestID). A privacy request's id is
// logged under a name of its own (rights_request_id, subject_request_id),
// never request_id. Log lines carry ids and counts, never personal data:
// no address, IP, name or message text.
package lambdalog

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns the JSON logger of the running function (LOG_LEVEL=debug
// for more), whose lines carry the ids of their context.
func New() *slog.Logger {
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("LOG_LEVEL"), "debug") {
		level = slog.LevelDebug
	}
	return slog.New(NewHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))).
		With("function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}

// NewHandler returns h adding to every record logged with a context the
// invocation_id and request_id it carries (each only when there is one).
func NewHandler(h slog.Handler) slog.Handler { return idHandler{h} }

type idHandler struct{ slog.Handler }

func (h idHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := InvocationID(ctx); id != "" {
		r.AddAttrs(slog.String("invocation_id", id))
	}
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h idHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return idHandler{h.Handler.WithAttrs(attrs)}
}

func (h idHandler) WithGroup(name string) slog.Handler { return idHandler{h.Handler.WithGroup(name)} }

// InvocationID returns the Lambda request id of the running invocation, or
// "" outside Lambda.
func InvocationID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying id, the API Gateway id of the HTTP
// request it serves (requestContext.requestId), for every log line.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the HTTP request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
