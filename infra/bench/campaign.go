package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// campaignBench is the fan-out campaign of TestCampaignFanOut at the
// bench's size: the same harness (the local stack, the local SQS server,
// its own DynamoDB Local and SES emulator, both senders killed at two
// fifths), run through go test so that it is the one the tests hold.
type campaignBench struct {
	Subscribers      int     `json:"subscribers"`
	SentExactlyOnce  bool    `json:"sent_exactly_once"`
	RateConfigured   float64 `json:"rate_configured"`
	RateBeforeKill   float64 `json:"rate_before_kill"`
	RateAfterKill    float64 `json:"rate_after_kill"`
	RateVsConfigured float64 `json:"rate_vs_configured"`
	// RateOverall is every message over the whole campaign's time, the
	// kill and the senders' start included: written when the campaign
	// failed too, with how far it got.
	RateOverall      float64 `json:"rate_overall"`
	ResumedAfterKill bool    `json:"resumed_after_kill"`
	Messages         int     `json:"messages"`
	Seconds          float64 `json:"seconds"`
	SeedSeconds      float64 `json:"seed_seconds"`
}

// benchCampaign runs the campaign with n subscribers at rate a second;
// strict holds the rate SES sees within 10% of it (PK_CAMPAIGN_STRICT=1),
// otherwise only below 110% (PK_CAMPAIGN_STRICT=0: the quick run's, which
// says whether the campaign works, not how fast this machine sends).
func benchCampaign(root string, n int, rate float64, strict bool) (campaignBench, error) {
	// What was run, whatever becomes of it.
	cb := campaignBench{Subscribers: n, RateConfigured: rate}
	out := filepath.Join(root, ".local", "bench", "campaign.json")
	_ = os.Remove(out)
	cmd := exec.Command("go", "test", "-count=1", "-timeout", "3h", "-run", "^TestCampaignFanOut$", "-v", "./infra/e2e")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PK_CAMPAIGN_N="+strconv.Itoa(n), "PK_CAMPAIGN_RATE="+strconv.FormatFloat(rate, 'f', -1, 64),
		"PK_CAMPAIGN_RESULTS="+out)
	if strict {
		cmd.Env = append(cmd.Env, "PK_CAMPAIGN_STRICT=1")
	} else {
		cmd.Env = append(cmd.Env, "PK_CAMPAIGN_STRICT=0")
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	runErr := cmd.Run()
	b, err := os.ReadFile(out)
	if err != nil {
		return cb, fmt.Errorf("campaign: no figures (%v): %w", runErr, err)
	}
	if err := json.Unmarshal(b, &cb); err != nil {
		return cb, err
	}
	if runErr != nil {
		// A failed test still leaves its figures: they say what failed.
		return cb, fmt.Errorf("TestCampaignFanOut failed (its figures are kept): %w", runErr)
	}
	return cb, nil
}

func printCampaign(cb campaignBench) {
	fmt.Printf("campaign %d subscribers: %d messages in %.0f s (seeding %.0f s); rate %.1f/s before the kill, %.1f/s after, "+
		"%.2f of the configured %.0f; exactly once %v; resumed after the kill %v\n", cb.Subscribers, cb.Messages, cb.Seconds,
		cb.SeedSeconds, cb.RateBeforeKill, cb.RateAfterKill, cb.RateVsConfigured, cb.RateConfigured, cb.SentExactlyOnce, cb.ResumedAfterKill)
}
