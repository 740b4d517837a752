package forms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/forms"
	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/httpapi/apigw"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

func sampleEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	var r events.APIGatewayV2HTTPRequest
	localtest.SampleEvent(t, name, &r)
	return r
}

func router(db *dynamodb.Client, tables dynamo.Tables) *httpapi.Router {
	h, _ := privacy.NewHasher([]byte("test-pepper-0123456789"))
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	f := &forms.Forms{Store: dynamo.New(db, tables), Hasher: h, Now: time.Now, NewID: uuid.NewString, Log: log}
	rt := httpapi.NewRouter(log, httpapi.Site{}, pages.Error)
	rt.InForce(privacy.FixedPolicy("v-test"))
	f.Routes(rt)
	return rt
}

// The sample events in events/ are what `sam local invoke` sends; they must
// work against the real handler.
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	n := localtest.Tables(t, svc)
	rt := router(localtest.DynamoDB(svc), dynamo.Tables{Subjects: n["SubjectsTable"], Ledger: n["LedgerTable"]})
	for file, want := range map[string]int{"forms-contact.json": 202, "forms-health.json": 200} {
		resp, err := apigw.Handler(rt.Serve)(context.Background(), sampleEvent(t, file))
		if err != nil || resp.StatusCode != want {
			t.Errorf("%s: %d %s %v", file, resp.StatusCode, resp.Body, err)
		}
	}
}

// With DynamoDB unreachable the visitor is told to retry (503 with
// Retry-After), and the answer says nothing about the cause.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	db := dynamodb.NewFromConfig(localtest.AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:9") // nothing listens there
		o.RetryMaxAttempts = 1
	})
	rt := router(db, dynamo.Tables{Subjects: "t", Ledger: "l"})
	for _, file := range []string{"forms-contact.json", "forms-health.json"} {
		resp, err := apigw.Handler(rt.Serve)(context.Background(), sampleEvent(t, file))
		if err != nil || resp.StatusCode != 503 || resp.Headers["Retry-After"] == "" {
			t.Errorf("%s: %d %v %s %v", file, resp.StatusCode, resp.Headers, resp.Body, err)
		}
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal([]byte(resp.Body), &body) != nil || body.Error.Code != "unavailable" {
			t.Errorf("%s: body %s", file, resp.Body)
		}
	}
}

// The form's language is remembered: a signup sent in German stores lang
// "de" and the German consent sentence's version, in the subscription and
// the ledger; one in a language the site lacks falls back to English.
func TestSignupRemembersItsLanguage(t *testing.T) {
	t.Parallel()
	svc := localtest.Need(t)
	names := localtest.Tables(t, svc)
	tables := dynamo.Tables{Subjects: names["SubjectsTable"], Ledger: names["LedgerTable"], Suppression: names["SuppressionTable"],
		Ops: names["OpsTable"]}
	db := localtest.DynamoDB(svc)
	rt := router(db, tables)
	h, _ := privacy.NewHasher([]byte("test-pepper-0123456789"))
	store := dynamo.New(db, tables)
	for i, c := range []struct{ header, lang string }{{"de-DE,de;q=0.9", "de"}, {"fr", "fr"}, {"es", "en"}} {
		email := fmt.Sprintf("lang%d-%s@example.com", i, localtest.Unique())
		var ev events.APIGatewayV2HTTPRequest
		ev.RouteKey, ev.Body = "POST /v1/subscriptions", `{"email":"`+email+`","consent":true}`
		ev.Headers = map[string]string{"content-type": "application/json", "accept-language": c.header}
		ev.RequestContext.HTTP.SourceIP = fmt.Sprintf("198.51.100.%d", i+1)
		resp, err := apigw.Handler(rt.Serve)(context.Background(), ev)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("%s: %d %s %v", c.header, resp.StatusCode, resp.Body, err)
		}
		sub, err := store.Subscription(context.Background(), h.Subject(email))
		wantVersion, _ := privacy.Consent(privacy.SourceSignupForm, c.lang)
		if err != nil || sub.Lang != c.lang || sub.ConsentVersion != wantVersion {
			t.Errorf("%s: lang %q consent %q, want %q %q (%v)", c.header, sub.Lang, sub.ConsentVersion, c.lang, wantVersion, err)
		}
	}
}
