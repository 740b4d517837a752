package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/sns"
	"github.com/privacykeeper/privacykeeper/shared/sns/snstest"
)

// A confirmed subscriber whose address a hard bounce or a complaint
// suppressed was kept for ever, mailed never (policy §7). The whole path
// through the local stack, each function under its template role: SES
// feedback through SNS (FeedbackFunction, which writes its suppression
// only) -> the retention sweep (SweepFunction, which the internet does not
// reach) -> after the grace, the subscription ended as an unsubscribe
// ends it (topics off, the consent's proof withdrawn, a ledger entry) with
// no email to the address -> deleted by a sweep after the unsubscribed
// class's days, the suppression kept. Abuse cases: a feedback
// notification from another topic, a soft bounce below the limit, a
// bounce of a person's old address after a correction moved them, a
// suppression the team lifted before the sweep acted: none ends a
// subscription; a bystander is untouched; no log line names an address.
func TestSuppressedSubscriptionEndedBySweep(t *testing.T) {
	t.Parallel()
	signer := snstest.New(t)
	standIn := newSNSStandIn(t, signer)
	s := startStackOpts(t, localtest.Need(t), 2, map[string]string{"SNS_ENDPOINT": standIn.URL}, nil)
	ours := s.feedbackTopic(t)
	const theirs = "arn:aws:sns:us-east-1:111122223333:attacker-topic"
	u := localtest.Unique()
	addr := func(who string) string { return who + "-" + u + "@example.com" }
	hard, complainer, victim, soft, lifted, bystander, old := addr("hard"), addr("complainer"), addr("victim"), addr("soft"),
		addr("lifted"), addr("bystander"), addr("old")
	moved := "moved-" + u + "@example.net"
	for _, a := range []string{hard, complainer, victim, soft, lifted, bystander, old} {
		s.subscribed(t, a)
	}
	// The old address is corrected to a new one, approved: the person's
	// subscription moves to the new address.
	id, verify, _ := s.fileAndOpen(t, old, `{"email":"`+old+`","type":"rectification","field":"email","value":"`+moved+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 || !strings.Contains(out, `"awaiting_review"`) {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	ask := s.mailTo(t, moved, "Please confirm this address (request "+id)
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(ask.Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm the new address: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", id); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	if sub := s.subscription(t, moved); str(sub, "status") != privacy.StatusConfirmed {
		t.Fatalf("the moved subscription is %q", str(sub, "status"))
	}

	notification := func(topic, body string) sns.Message {
		m := signer.Notification(t, body, "2")
		m.TopicArn, m.Timestamp = topic, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		signer.Sign(t, &m, "2")
		return m
	}
	invoke := func(m sns.Message) {
		t.Helper()
		raw, _ := json.Marshal(m)
		ev := `{"Records":[{"EventSource":"aws:sns","Sns":` + strings.Replace(string(raw), `"SigningCertURL"`, `"SigningCertUrl"`, 1) + `}]}`
		if resp, out := s.do(t, "POST", "/_local/invoke/FeedbackFunction", "application/json", ev, nil); resp.StatusCode != 200 {
			t.Fatalf("invoke: %d %s", resp.StatusCode, out)
		}
	}
	post := func(m sns.Message) int {
		raw, _ := json.Marshal(m)
		resp, _ := s.do(t, "POST", "/v1/ses-notifications", "text/plain; charset=UTF-8", string(raw),
			map[string]string{"x-amz-sns-message-type": m.Type})
		return resp.StatusCode
	}
	bounce := func(a, kind, id string) string {
		return `{"notificationType":"Bounce","mail":{"messageId":"` + id + `-` + u + `"},"bounce":{"bounceType":"` + kind +
			`","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"` + a + `"}]}}`
	}
	complaint := func(a string) string {
		return `{"notificationType":"Complaint","mail":{"messageId":"c-` + u + `"},"complaint":{"complainedRecipients":[{"emailAddress":"` + a + `"}]}}`
	}
	invoke(notification(ours, bounce(hard, "Permanent", "hard")))
	invoke(notification(ours, complaint(complainer)))
	// Another account's topic, well signed, in both shapes: nothing.
	if code := post(notification(theirs, complaint(victim))); code != 403 {
		t.Errorf("a foreign topic's complaint: %d", code)
	}
	invoke(notification(theirs, complaint(victim)))
	// Two soft bounces of two emails: below the limit of three.
	invoke(notification(ours, bounce(soft, "Transient", "soft-1")))
	invoke(notification(ours, bounce(soft, "Transient", "soft-2")))
	// The person's old address bounces after the move: the bounce is the
	// old address's, and the subscription is no longer there.
	invoke(notification(ours, bounce(old, "Permanent", "old")))
	// A bounce the team lifts (the mailbox works again) before the sweep.
	invoke(notification(ours, bounce(lifted, "Permanent", "lifted")))
	if out, err := s.privacyctl(t, "suppression", "lift", "-email", lifted, "-reason", "The mailbox works again."); err != nil ||
		!strings.Contains(out, "bounced") {
		t.Fatalf("suppression lift: %v %s", err, out)
	}
	s.idle(t)

	sweep := func() map[string]int {
		t.Helper()
		resp, out := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", "{}", nil)
		var rep struct {
			Complete bool                      `json:"complete"`
			Counts   map[string]map[string]int `json:"counts"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Complete {
			t.Fatalf("sweep: %d %s", resp.StatusCode, out)
		}
		return rep.Counts[privacy.Retention().SuppressedSubscription.Name]
	}
	status := func(a string) string { return str(s.subscription(t, a), "status") }
	pkOf := func(a string) string { return "S#" + string(s.hasher.Subject(a)) }
	suppressions := func() []map[string]types.AttributeValue {
		var out []map[string]types.AttributeValue
		for _, it := range s.items(t, "SuppressionTable") {
			for _, a := range []string{hard, complainer, victim, soft, lifted, bystander, old, moved} {
				if str(it, "pk") == pkOf(a) {
					out = append(out, it)
				}
			}
		}
		return out
	}

	// Inside the grace: nothing ends; the sweep stamps each bounce and
	// complaint it sees first (hard, complainer, old).
	if got := sweep(); got["ended"] != 0 || got["stamped"] != 3 {
		t.Fatalf("inside the grace the sweep ended %v", got)
	}
	if st := status(hard); st != privacy.StatusConfirmed {
		t.Fatalf("inside the grace the bounced subscription is %q", st)
	}
	// The grace has passed: it runs from the sweep's own stamp on its
	// first sight of each suppression (grace_from, set by the run above),
	// set back.
	grace := time.Duration(privacy.SuppressedSubscriptionGraceDays) * 24 * time.Hour
	filed := 0
	for _, it := range suppressions() {
		if it["retention_at"] == nil {
			continue
		}
		filed++
		if it[privacy.AttrGraceFrom] == nil {
			t.Errorf("%s: filed, but not stamped by the sweep", str(it, "sk"))
		}
		from := time.Now().Add(-grace - time.Hour)
		s.setClocks(t, "SuppressionTable", it, map[string]time.Time{privacy.AttrGraceFrom: from, "retention_at": from.Add(grace)})
	}
	if filed != 3 { // hard, complainer, old; not the soft bounces, the lifted one, nor the foreign topic's
		t.Errorf("%d suppressions filed for the sweep, want 3", filed)
	}
	mailsBefore := map[string]int{}
	for _, a := range []string{hard, complainer} {
		mailsBefore[a] = len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(a) }))
	}
	if got := sweep(); got["ended"] != 2 || got["checked"] != 1 {
		t.Errorf("the sweep: %v, want 2 ended (the bounce, the complaint) and 1 checked (the old address's bounce)", got)
	}
	for _, a := range []string{hard, complainer} {
		sub := s.subscription(t, a)
		if str(sub, "status") != privacy.StatusUnsubscribed || sub["topics"] != nil || sub["list_pk"] != nil {
			t.Errorf("%s: after the sweep the subscription is %s", a, shown(sub))
		}
		if p := s.consentProof(t, a); p == nil || str(p, "withdrawn_at") == "" {
			t.Errorf("%s: the consent's proof is not withdrawn: %s", a, shown(p))
		}
		n := 0
		for _, it := range s.items(t, "LedgerTable") {
			if str(it, "pk") == pkOf(a) && str(it, "event") == "subscription_ended" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d ledger entries of the end, want 1", a, n)
		}
	}
	for _, a := range []string{victim, soft, lifted, bystander, moved} {
		if st := status(a); st != privacy.StatusConfirmed {
			t.Errorf("%s: the subscription is %q, want confirmed", a, st)
		}
		if p := s.consentProof(t, a); p == nil || str(p, "withdrawn_at") != "" {
			t.Errorf("%s: the consent's proof: %s", a, shown(p))
		}
	}
	// No email to the dead or complaining address: no receipt, nothing.
	s.idle(t)
	for _, a := range []string{hard, complainer} {
		if n := len(localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(a) })); n != mailsBefore[a] {
			t.Errorf("%s: %d emails after the end, want none", a, n-mailsBefore[a])
		}
	}
	// Run again: nothing more.
	if got := sweep(); got["ended"] != 0 || got["checked"] != 0 {
		t.Errorf("a second sweep: %v", got)
	}

	// The unsubscribed class's days later the ended subscriptions go; the
	// suppressions stay (they keep the addresses unmailed).
	for _, a := range []string{hard, complainer} {
		ended := time.Now().AddDate(0, 0, -privacy.Retention().Unsubscribed.Days).Add(-time.Hour)
		s.setClocks(t, "SubjectsTable", s.subscription(t, a), map[string]time.Time{"unsubscribed_at": ended,
			"retention_at": privacy.Retention().Unsubscribed.From(ended)})
	}
	sweep()
	for _, a := range []string{hard, complainer} {
		if sub := s.subscription(t, a); sub != nil {
			t.Errorf("%s: the ended subscription is kept past the unsubscribed class's days: %s", a, shown(sub))
		}
	}
	kept := map[string]bool{}
	for _, it := range suppressions() {
		kept[str(it, "pk")] = true
	}
	for _, a := range []string{hard, complainer, old} {
		if !kept[pkOf(a)] {
			t.Errorf("%s: the suppression went", a)
		}
	}
	logs := s.logs.String()
	for _, a := range []string{hard, complainer, victim, soft, lifted, bystander, old, moved} {
		if strings.Contains(logs, a) {
			t.Errorf("a log line names %s", a)
		}
	}
}

// graceOver has the sweep see the bounces and complaints filed under the
// addresses' keys (its first sight stamps each one's grace_from), then
// sets each stamp back past the grace, as if the week had passed. It
// reports how many it set back.
func (s *stack) graceOver(t *testing.T, addresses ...string) int {
	t.Helper()
	if resp, out := s.do(t, "POST", "/_local/invoke/SweepFunction", "application/json", "{}", nil); resp.StatusCode != 200 {
		t.Fatalf("sweep: %d %s", resp.StatusCode, out)
	}
	grace := time.Duration(privacy.SuppressedSubscriptionGraceDays) * 24 * time.Hour
	n := 0
	for _, it := range s.items(t, "SuppressionTable") {
		for _, a := range addresses {
			if str(it, "pk") == "S#"+string(s.hasher.Subject(a)) && it["retention_at"] != nil && it[privacy.AttrGraceFrom] != nil {
				from := time.Now().Add(-grace - time.Hour)
				s.setClocks(t, "SuppressionTable", it, map[string]time.Time{privacy.AttrGraceFrom: from, "retention_at": from.Add(grace)})
				n++
			}
		}
	}
	return n
}
