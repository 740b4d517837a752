package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
)

// TestLoadNothingLostOrDuplicated sends PK_LOAD_N mixed submissions
// (contact forms, signups, rights requests; 500 in make test, 10,000 in
// make load) at concurrency 32 from up to 2,500 loopback addresses through
// the local gateway, then accounts for every one: one record each in
// DynamoDB, and each expected email exactly once in an SES emulator of the
// test's own. It does not run in parallel with the other tests (Go runs it
// before them): it saturates DynamoDB Local, and their waits should not
// pay for that.
func TestLoadNothingLostOrDuplicated(t *testing.T) {
	n := 500 // keeps make test within its 5 minutes on 2 cores
	if v, err := strconv.Atoi(os.Getenv("PK_LOAD_N")); err == nil && v > 0 {
		n = v
	}
	svc := localtest.Need(t)
	ses := localtest.OwnSES(t)
	svc.SES = ses.URL
	s := startStackOpts(t, svc, 4, nil, nil)
	u := localtest.Unique()

	kind := func(i int) string {
		return [...]string{"contact", "contact", "contact", "contact", "contact", "contact", "contact", "signup", "signup", "rights"}[i%10]
	}
	addr := func(i int) string { return fmt.Sprintf("load%d-%s@example.com", i, u) }
	body := func(i int) (string, string) {
		switch kind(i) {
		case "signup":
			return "/v1/subscriptions", `{"email":"` + addr(i) + `","consent":true}`
		case "rights":
			return "/v1/rights-requests", `{"email":"` + addr(i) + `","type":"access"}`
		}
		return "/v1/contact", contactBody(addr(i))
	}
	// 2,500 source addresses: 4 submissions each, under every per-IP limit,
	// as a spike of many visitors would look.
	const ips = 2500
	transports := make([]*http.Transport, ips)
	for k := range transports {
		ip := net.IPv4(127, 3, byte(k/250), byte(k%250+1))
		transports[k] = &http.Transport{MaxIdleConnsPerHost: 1,
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext}
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				path, b := body(i)
				c := &http.Client{Timeout: 60 * time.Second, Transport: transports[i%ips]}
				resp, err := c.Post(s.URL+path, "application/json", strings.NewReader(b))
				if err != nil || resp.StatusCode != 202 {
					if failed.Add(1) <= 5 {
						t.Errorf("submission %d (%s): %v %v", i, kind(i), err, resp)
					}
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if failed.Load() > 0 {
		t.Fatalf("%d of %d submissions failed", failed.Load(), n)
	}
	t.Logf("%d submissions in %v (%.0f/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())

	// DynamoDB: one record per submission.
	want := map[string]int{}
	for i := 0; i < n; i++ {
		want[kind(i)]++
	}
	got := map[string]int{}
	count := func(table string, key func(map[string]types.AttributeValue) string) {
		p := dynamodb.NewScanPaginator(s.DB(), &dynamodb.ScanInput{TableName: aws.String(s.Tables[table])})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				if k := key(it); k != "" {
					got[k]++
				}
			}
		}
	}
	count("SubjectsTable", func(it map[string]types.AttributeValue) string {
		return map[string]string{"inquiry": "contact", "subscription": "signup"}[str(it, "kind")]
	})
	count("RequestsTable", func(map[string]types.AttributeValue) string { return "rights" })
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %d records for %d submissions", k, got[k], w)
		}
	}

	// SES: each sender its one acknowledgement or confirmation, the team
	// one notice per inquiry and per request: nothing lost, nothing twice.
	wantMails := want["contact"]*2 + want["signup"] + want["rights"]*2
	deadline := time.Now().Add(10 * time.Minute)
	var mails []localtest.Email
	for {
		mails = localtest.Emails(t, svc, nil)
		if len(mails) >= wantMails || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}
	s.idle(t) // time for a duplicate, if one were coming
	mails = localtest.Emails(t, svc, nil)
	t.Logf("%d emails delivered %v after the first submission", len(mails), time.Since(start).Round(time.Second))
	per := map[string]int{}
	for _, m := range mails {
		for _, to := range m.Destination.To {
			per[to]++
		}
	}
	for i := 0; i < n; i++ {
		if per[addr(i)] != 1 {
			t.Errorf("%s (%s): %d emails, want 1", addr(i), kind(i), per[addr(i)])
			if t.Failed() && i > 20 {
				break
			}
		}
	}
	if team := per[s.team]; team != want["contact"]+want["rights"] {
		t.Errorf("team inbox: %d notices, want %d", team, want["contact"]+want["rights"])
	}
	if len(mails) != wantMails {
		t.Errorf("%d emails in all, want %d", len(mails), wantMails)
	}
}
