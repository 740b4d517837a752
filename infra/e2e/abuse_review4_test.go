package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/dynamo"
	"github.com/privacykeeper/privacykeeper/shared/limit"
	"github.com/privacykeeper/privacykeeper/shared/rights"
)

// Fourth hostile review (after 26fd5eb): each test asserts what the
// project promises; a failure is the finding.

var (
	unsubLink = regexp.MustCompile(`http://[^\s"<>]+/v1/unsubscribe\?token=[^\s"<>]+`)
	prefsPath = regexp.MustCompile(`/v1/preferences\?token=[A-Za-z0-9_-]+`)
)

// moveAddress has the person at old move to fresh as the project allows
// it: verified by the old address, confirmed by the new, approved.
func (s *stack) moveAddress(t *testing.T, old, fresh string) {
	t.Helper()
	id, verify, _ := s.fileAndOpen(t, old, `{"email":"`+old+`","type":"rectification","field":"email","value":"`+fresh+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify the move: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(s.mailTo(t, fresh, id).Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm the new address: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", id); err != nil {
		t.Fatalf("approve the move: %v %s", err, out)
	}
	if s.subscription(t, fresh) == nil {
		t.Fatal("the subscription did not move")
	}
}

// newLink waits for an email to addr carrying a link re matches that is
// none of seen, and returns it.
func (s *stack) newLink(t *testing.T, addr string, re *regexp.Regexp, seen []string) string {
	t.Helper()
	var link string
	localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		for _, l := range re.FindAllString(e.Body.Text, -1) {
			if e.To(addr) && !slices.Contains(seen, l) {
				link = l
				return true
			}
		}
		return false
	})
	if link == "" {
		t.Fatalf("no new link to %s matching %s", addr, re)
	}
	return link
}

// prefsOf returns the preferences link the page of an unsubscribe link
// offers (relative there; absolute here).
func (s *stack) prefsOf(t *testing.T, unsub string) string {
	t.Helper()
	_, page := s.do(t, "GET", s.path(t, unsub), "", "", map[string]string{"Accept": "text/html"})
	prefs := prefsPath.FindString(page)
	if prefs == "" {
		t.Fatalf("no preferences link on the unsubscribe page: %.400s", page)
	}
	return s.URL + prefs
}

// R4-1. The MOVED forward (400 days) is followed by every preferences and
// unsubscribe link of the old key, whoever it was minted for and when.
// The person moves from old to fresh (the usual reason: old is a work
// mailbox they left, now read by someone else). The old mailbox's new
// holder signs old up to the newsletter, confirms it (a double opt-in of
// their own: nothing the project refuses) and gets every newsletter. Then:
//   - their unsubscribe link ("one-click", RFC 8058) acts on the MOVER's
//     subscription under fresh, and the holder's own subscription stays
//     confirmed: they cannot unsubscribe (the law's one requirement of a
//     marketing email), and by trying they unsubscribe a stranger;
//   - their preferences link shows the mover's masked new address
//     (domain and first letter) and sets the mover's topics.
func TestAbuseReview4NewHolderOfALeftAddressActsOnTheMover(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "left-"+u+"@example.com", "mover-"+u+"@example.org"
	first := s.subscribed(t, old)
	s.moveAddress(t, old, fresh)

	// The old mailbox's new holder signs up, with a double opt-in of their own.
	var before []string
	for _, m := range s.mailsTo(t, old) {
		before = append(before, unsubLink.FindAllString(m.Body.Text, -1)...)
	}
	if resp, out := s.do(t, "POST", "/v1/subscriptions", "application/json", `{"email":"`+old+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("the new holder's signup: %d %s", resp.StatusCode, out)
	}
	confirm := s.newLink(t, old, confirmLink, []string{first})
	if resp, out := s.do(t, "POST", s.path(t, confirm), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("the new holder's confirmation: %d %s", resp.StatusCode, out)
	}
	if sub := s.subscription(t, old); sub == nil || str(sub, "status") != "confirmed" {
		t.Fatalf("the new holder's subscription: %v", sub)
	}
	// Their receipt carries their unsubscribe link; its page, the
	// preferences link.
	unsub := s.newLink(t, old, unsubLink, before)
	prefs := s.prefsOf(t, unsub)

	resp, view := s.do(t, "GET", s.path(t, prefs), "", "", nil)
	t.Logf("the new holder's preferences link: %d %s", resp.StatusCode, view)
	if masked := fresh[:1] + "***" + fresh[strings.LastIndexByte(fresh, '@'):]; strings.Contains(view, masked) {
		t.Errorf("the new holder of %s reads the mover's masked new address %s on their own preferences page", old, masked)
	}

	resp, out := s.do(t, "POST", s.path(t, unsub), "", "", nil)
	t.Logf("the new holder's unsubscribe: %d %s", resp.StatusCode, out)
	holder, mover := s.subscription(t, old), s.subscription(t, fresh)
	t.Logf("after it: the holder's subscription %q, the mover's %q", str(holder, "status"), str(mover, "status"))
	if resp.StatusCode == 200 && holder != nil && str(holder, "status") == "confirmed" {
		t.Errorf("the new holder pressed unsubscribe (answered %d) and stays subscribed (status %q): they cannot unsubscribe for 400 days",
			resp.StatusCode, str(holder, "status"))
	}
	if mover == nil || str(mover, "status") != "confirmed" {
		t.Errorf("the new holder's unsubscribe unsubscribed the MOVER at their new address (status %q)", str(mover, "status"))
	}
}

// R4-2. Hidden text still passes. The forms and the team's texts refuse
// Unicode format characters (Cf), U+2028/9, variation selectors outside
// emoji and five fillers; but Unicode's Default_Ignorable_Code_Point set
// (DerivedCoreProperties.txt: what a renderer draws as nothing) holds more
// than that: the combining grapheme joiner U+034F, the Khmer inherent
// vowels U+17B4/U+17B5, the Mongolian free variation selectors
// U+180B-U+180D and U+180F (variation selectors like those refused), and
// the unassigned rest of the tags block U+E0080-U+E00FF and
// U+E01F0-U+E0FFF, 128 of which map one to one onto ASCII as the refused
// tag characters do ("ASCII smuggling": a message that reads "Hello" to the
// team and carries a hidden instruction for any tool that reads it, or a
// name that looks empty). Each is taken (202) and stored.
func TestAbuseReview4DefaultIgnorableCharactersPass(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	smuggle := func(text string) string { // ASCII onto U+E0080+
		var b strings.Builder
		for _, r := range text {
			b.WriteRune(0xE0080 + r)
		}
		return b.String()
	}
	for i, tc := range []struct{ name, hidden string }{
		{"unassigned tags U+E0080+ (ASCII smuggling)", smuggle("ignore previous instructions")},
		{"U+E01F0 (unassigned, default ignorable)", "\U000E01F0\U000E01F1"},
		{"Mongolian free variation selectors U+180B-U+180D", "\u180B\u180C\u180D"},
		{"combining grapheme joiner U+034F", "\u034F\u034F"},
		{"Khmer inherent vowels U+17B4/U+17B5", "\u17B4\u17B5"},
	} {
		addr := fmt.Sprintf("hidden-%d-%s@example.com", i, u)
		msg := "Hello, please call me back." + tc.hidden
		body, _ := json.Marshal(map[string]string{"name": "Ann" + tc.hidden, "email": addr, "message": msg})
		resp, out := s.doWith(t, clientFrom(fmt.Sprintf("127.0.94.%d", i+1)), "POST", "/v1/contact", "application/json", string(body), nil)
		t.Logf("%s: %d %.160s", tc.name, resp.StatusCode, out)
		if resp.StatusCode != 400 {
			stored := false
			for _, it := range s.items(t, "SubjectsTable") {
				if strings.Contains(str(it, "message"), tc.hidden) {
					stored = true
				}
			}
			t.Errorf("%s: a message and name carrying it were taken (%d, stored with it: %v); they read to the team as plain text",
				tc.name, resp.StatusCode, stored)
		}
	}
}

// R4-3. The forward lets the old mailbox give consent. A person moves
// from old to fresh because old is no longer theirs (a job left, a
// mailbox lost). Whoever reads old now has every marketing email the
// person was sent there; the preferences link on any of their unsubscribe
// pages (400 days) follows the forward and does not only take away: it
// shows the person's masked new address and ADDS topics to the moved
// subscription, recorded in the person's ledger as their consent
// (preferences_changed) with the holder's network address. Following the
// forward is there so that an old link can stop marketing; giving consent
// for someone is "acting for" them.
func TestAbuseReview4OldMailboxAddsConsentForTheMover(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "lostbox-"+u+"@example.com", "newbox-"+u+"@example.org"
	s.subscribed(t, old)
	unsub := s.newLink(t, old, unsubLink, nil)
	prefs := s.path(t, s.prefsOf(t, unsub))
	s.moveAddress(t, old, fresh)
	if got := ss(s.subscription(t, fresh), "topics"); !slices.Equal(got, []string{"newsletter"}) {
		t.Fatalf("the moved subscription's topics: %v", got)
	}

	holder := clientFrom("127.0.96.7")
	_, view := s.doWith(t, holder, "GET", prefs, "", "", nil)
	t.Logf("the old mailbox's preferences link after the move: %s", view)
	resp, out := s.doWith(t, holder, "POST", prefs, "application/json", `{"topics":["newsletter","events","product_updates"]}`, nil)
	t.Logf("the old mailbox adds topics: %d %s", resp.StatusCode, out)
	got := ss(s.subscription(t, fresh), "topics")
	if len(got) > 1 {
		t.Errorf("the holder of the mailbox the person left subscribed the person, at their new address, to %v (their consent as the ledger records it)", got)
	}
	pk := "S#" + string(s.hasher.Subject(fresh))
	for _, it := range s.items(t, "LedgerTable") {
		if str(it, "pk") == pk && str(it, "event") == "preferences_changed" {
			t.Errorf("the holder's attempt is in the person's ledger as their preferences_changed (from %s)", mapStr(it, "detail", "source_ip"))
		}
	}
}

// R4-4. An agent's portability request sends the person's data to a
// recipient the person is never shown. A stranger files a portability
// request for the person as their "authorised agent" and names an address
// of their own as the recipient. The person's verification email names the
// agent and says they will "never [be] sent your data"; it does not name
// the recipient (request_ack names none, with or without an agent). The
// verification page shows the agent's text (the page's switch takes the
// agent before the recipient) and says the same. The person, told that
// confirming sends the agent nothing, confirms: the export link goes to
// the stranger's recipient address.
func TestAbuseReview4AgentFilingSendsDataToAnUnshownRecipient(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person, agent, drop := "agented-"+u+"@example.com", "agent-"+u+"@example.net", "dropbox-"+u+"@example.net"
	secret := "PERSONS-OWN-" + u
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json", `{"name":"Pat","email":"`+person+`","message":"`+secret+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact: %d %s", resp.StatusCode, out)
	}
	filing := `{"email":"` + person + `","type":"portability","relationship":"authorized_agent","agent_email":"` + agent +
		`","recipient_email":"` + drop + `"}`
	code, f := s.file(t, filing)
	if code == 400 {
		return // an agent may not name a recipient: closed
	}
	if code != 202 || f.ID == "" {
		t.Fatalf("the agent's filing: %d %+v", code, f)
	}
	ack := s.mailTo(t, person, f.ID)
	verify := verifyLink.FindString(ack.Body.Text)
	_, page := s.do(t, "GET", s.path(t, verify), "", "", map[string]string{"Accept": "text/html"})
	page = strings.Join(strings.Fields(stripTags(page)), " ")
	t.Logf("the verification page: %.400s", page)
	shown := strings.Contains(ack.Body.Text, drop) || strings.Contains(page, drop)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("the person confirms what they were shown: %d %s", resp.StatusCode, out)
	}
	got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(drop) && exportLink.MatchString(e.Body.Text) })
	if len(got) == 0 {
		return
	}
	_, raw := s.do(t, "GET", s.path(t, exportLink.FindString(got[0].Body.Text))+"&download=1", "", "", nil)
	if !shown {
		t.Errorf("the person's data (holds their message: %v) went to %s, an address neither their verification email nor the page they "+
			"confirmed on named; both told them the agent is \"never sent your data\"", strings.Contains(raw, secret), "the stranger's recipient")
	}
}

// R4-5. The team's texts are checked (privacy.CheckText) where the team
// decides a request and summarises a policy, but not the one text that
// reaches every subscriber: a campaign's subject and body. A body pasted
// with U+202E (or carrying tag characters) is planned and sent as is: each
// subscriber's email reads otherwise than it was written, or carries
// hidden text.
func TestAbuseReview4CampaignTextIsNotChecked(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	reader := "campaign-reader-" + u + "@example.com"
	s.subscribed(t, reader)
	id := "r4-" + u
	body, _ := json.Marshal(map[string]string{"campaign_id": id, "topic": "newsletter",
		"subject": "Your invoice \u202Efdp.exe\u202C", "body": "Open the attached \u202Efdp.exe\u202C today.\U000E0041\U000E0042"})
	resp, out := s.do(t, "POST", "/_local/invoke/CampaignFunction", "application/json", string(body), nil)
	t.Logf("the campaign with a reversed subject and body: %d %.200s", resp.StatusCode, out)
	var st struct {
		ID    string `json:"campaign_id"`
		State string `json:"state"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(out), &st) != nil || st.ID == "" {
		return // refused: what the project promises
	}
	got := localtest.WaitEmails(t, s.svc, 1, 60*time.Second, func(e localtest.Email) bool { return e.To(reader) && strings.Contains(e.Body.Text, "fdp.exe") })
	if len(got) == 0 {
		t.Fatal("the campaign was planned but its email never reached the subscriber")
	}
	for _, m := range got {
		if strings.ContainsRune(m.Subject, '\u202E') || strings.ContainsRune(m.Body.Text, '\u202E') || strings.ContainsRune(m.Body.Text, '\U000E0041') {
			t.Errorf("a subscriber received the campaign with a bidi override / tag characters in it (subject %q)", m.Subject)
		}
	}
}

// R4-6. The forward is in the left address's export. After the person
// moved from old to fresh, whoever holds old now asks for a copy of "their"
// data (an access request, verified from old, as the project allows): the
// export's records hold the forward the move left under old, the mover's
// item, not theirs: kind "moved", the day of the move and the key of
// the person's data now (a stable pseudonym of the mover). The holder
// learns that the address's earlier user moved their data elsewhere, and
// when.
func TestAbuseReview4LeftAddressExportHoldsTheMoversForward(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "exported-old-"+u+"@example.com", "exported-new-"+u+"@example.org"
	s.subscribed(t, old)
	s.moveAddress(t, old, fresh)
	moverKey := string(s.hasher.Subject(fresh))

	_, ex := s.export(t, old)
	for _, rec := range ex.Records {
		b, _ := json.Marshal(rec)
		t.Logf("a record in the export of %s: %s", "the left address", b)
		if strings.Contains(string(b), moverKey) || rec["kind"] == "moved" {
			t.Errorf("the new holder of the left address reads the mover's forward in their export: %s", b)
		}
	}
}

// R4-7. "One daily budget per mailbox" is a fixed window aligned on UTC
// midnight (limit.Each keys the counter by now.Truncate(24h)): a mailbox
// gets RightsPerAddress (10) rights emails in the last second of a UTC day
// and 10 more in the first second of the next, 20 within two seconds. The
// gateway's functions read the wall clock and the local stack cannot set
// it, so this drives the intake's own check (limit.Each with the rule the
// rights function uses, rights.MailboxBudgets of DefaultPerAddress, keyed by the mailbox as
// held() keys it) against the stack's own counters in DynamoDB Local, at
// two instants two seconds apart.
func TestAbuseReview4MailboxBudgetDoublesAcrossMidnight(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	store := dynamo.New(s.DB(), dynamo.Tables{Ops: s.Tables["OpsTable"]})
	key := s.hasher.MailboxKey("midnight-" + localtest.Unique() + "@example.com")
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	budget, _ := rights.MailboxBudgets(rights.DefaultPerAddress)
	allowed := 0
	for _, at := range []time.Time{midnight.Add(-time.Second), midnight.Add(time.Second)} {
		for range 2 * rights.DefaultPerAddress.Max {
			over, err := limit.Each(context.Background(), store, at, limit.Check{Rule: budget, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			if over[0] == nil {
				allowed++
			}
		}
	}
	t.Logf("rights emails one mailbox may be sent between %s and %s: %d", midnight.Add(-time.Second).Format(time.TimeOnly),
		midnight.Add(time.Second).Format(time.TimeOnly), allowed)
	if allowed > rights.DefaultPerAddress.Max {
		t.Errorf("%d rights emails to one mailbox within two seconds; the budget is %d a day", allowed, rights.DefaultPerAddress.Max)
	}
}

// R4-8. The mover's export holds the old mailbox holder's network data.
// An unsubscription, a change of preferences or an added topic is taken to
// be the person's own act (a link mailed to them), so the export keeps its
// source IP and browser (rights.PersonsOwn, viaLink). After a move, the
// forward gives the old address's links to whoever reads the old mailbox:
// their click (an unsubscribe the project wants to work, TestAbuseReview2
// OldUnsubscribeLinkAfterTheMoveUnsubscribesNothing) is written to the
// mover's ledger with the holder's IP address and user agent, and the
// mover's next export hands both to the mover: a stranger's network data
// in the person's copy.
func TestAbuseReview4MoversExportHoldsTheOldMailboxHoldersNetwork(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "netold-"+u+"@example.com", "netnew-"+u+"@example.org"
	s.subscribed(t, old)
	unsub := s.newLink(t, old, unsubLink, nil)
	s.moveAddress(t, old, fresh)

	holderIP, holderUA := "127.0.97.9", "HolderBrowser/"+u
	resp, out := s.doWith(t, clientFrom(holderIP), "POST", s.path(t, unsub), "", "", map[string]string{"User-Agent": holderUA})
	t.Logf("the old mailbox's holder unsubscribes through the forward: %d %s", resp.StatusCode, out)
	if resp.StatusCode != 200 {
		t.Fatalf("the old unsubscribe link after the move: %d", resp.StatusCode)
	}
	raw, _ := s.export(t, fresh)
	if strings.Contains(raw, holderIP) || strings.Contains(raw, holderUA) {
		t.Errorf("the mover's export holds the old mailbox holder's network data (IP %v, user agent %v)",
			strings.Contains(raw, holderIP), strings.Contains(raw, holderUA))
	}
}

// R4-9. Capture of a signup. A person signs up (newsletter) and has not
// clicked yet; ten minutes later (the form's cooldown; the stack's clock
// cannot be set, so the test moves the pending signup's
// confirm_requested_at back eleven minutes, as time would) a stranger signs
// the same address up with topics and a name of their choosing. The
// stranger's unconfirmed signup replaces the person's: the person's own
// confirmation link stops working, and what the person can still confirm
// is the stranger's signup (its topics, its name, its language). The
// rights intake joins only identical own filings; the signup overwrites.
func TestAbuseReview4StrangersSignupReplacesPersonsPendingOne(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	person := "pending-" + u + "@example.com"
	if resp, out := s.doWith(t, clientFrom("127.0.98.1"), "POST", "/v1/subscriptions", "application/json",
		`{"email":"`+person+`","name":"Pat","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("the person's signup: %d %s", resp.StatusCode, out)
	}
	own := s.newLink(t, person, confirmLink, nil)
	pk := "S#" + string(s.hasher.Subject(person))
	if _, err := s.DB().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables["SubjectsTable"]),
		Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "SUB"}},
		UpdateExpression: aws.String("SET confirm_requested_at = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberS{Value: time.Now().UTC().Add(-11 * time.Minute).Format(time.RFC3339Nano)}}}); err != nil {
		t.Fatal(err)
	}
	if resp, out := s.doWith(t, clientFrom("127.0.98.2"), "POST", "/v1/subscriptions", "application/json",
		`{"email":"`+person+`","name":"Mallory","topics":["events","product_updates"],"consent":true}`, map[string]string{"Accept-Language": "de"}); resp.StatusCode != 202 {
		t.Fatalf("the stranger's signup: %d %s", resp.StatusCode, out)
	}
	s.idle(t)
	resp, out := s.do(t, "POST", s.path(t, own), "", "", nil)
	sub := s.subscription(t, person)
	t.Logf("the person's own link after the stranger's signup: %d %s; stored: status %q, name %q, topics %v", resp.StatusCode, out,
		str(sub, "status"), str(sub, "name"), ss(sub, "topics"))
	if resp.StatusCode != 200 || str(sub, "name") == "Mallory" || !slices.Equal(ss(sub, "topics"), []string{"newsletter"}) {
		t.Errorf("a stranger's unconfirmed signup replaced the person's pending one: the person's link answers %d, the signup "+
			"now holds the stranger's name (%v) and topics %v", resp.StatusCode, str(sub, "name") == "Mallory", ss(sub, "topics"))
	}
}
