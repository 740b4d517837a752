package lambdalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/privacykeeper/privacykeeper/shared/lambdalog"
)

// Every line logged with a context carries the ids it holds, under one
// name each, whatever logger (With, WithGroup) wrote it; a line without
// them has neither.
func TestHandlerAddsTheContextsIDs(t *testing.T) {
	invocation := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "inv-1"})
	tests := []struct {
		name                string
		ctx                 context.Context
		log                 func(*slog.Logger) *slog.Logger
		invocation, request string
	}{
		{"none", context.Background(), nil, "", ""},
		{"invocation", invocation, nil, "inv-1", ""},
		{"request", lambdalog.WithRequestID(context.Background(), "req-1"), nil, "", "req-1"},
		{"both", lambdalog.WithRequestID(invocation, "req-1"), nil, "inv-1", "req-1"},
		{"through With", lambdalog.WithRequestID(invocation, "req-1"),
			func(l *slog.Logger) *slog.Logger { return l.With("route", "POST /v1/contact") }, "inv-1", "req-1"},
		{"an empty request id", lambdalog.WithRequestID(invocation, ""), nil, "inv-1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(lambdalog.NewHandler(slog.NewJSONHandler(&buf, nil)))
			if tt.log != nil {
				log = tt.log(log)
			}
			log.InfoContext(tt.ctx, "x")
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			for key, want := range map[string]string{"invocation_id": tt.invocation, "request_id": tt.request} {
				got, ok := line[key]
				if want == "" && ok || want != "" && got != want {
					t.Errorf("%s %v, want %q: %s", key, got, want, buf.Bytes())
				}
			}
		})
	}
}
