package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/infra/local/localtest"
	"github.com/privacykeeper/privacykeeper/shared/session"
)

// Third hostile review (after 031fc54 and the 'holes' merge). Each test
// asserts what the project promises; a failure is the finding.

// X1. A stranger still silences the person's own filing: the requester
// budget (rights_addr, per mailbox) is spent by anyone who types the
// person's address as "email" (a plain filing is indistinguishable from
// the person's own). Ten identical filings from ONE source address, within
// its hourly limit, send the person one email (the rest join the first and
// fall inside the resend cooldown); the person's own erasure, filed next
// from their own network, is answered 202 "we sent you a link" and then:
// no verification link, no team notice (the team's notice is held with
// the acknowledgement), and the sweep expires it unverified after 14 days.
func TestAbuseReview2StrangerStillSilencesPersonsOwnFiling(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	victim := "silenced-" + u + "@example.com"
	stranger := clientFrom("127.0.91.1")
	for i := 0; i < 10; i++ {
		resp, out := s.doWith(t, stranger, "POST", "/v1/rights-requests", "application/json", `{"email":"`+victim+`","type":"access"}`, nil)
		if resp.StatusCode != 202 {
			t.Fatalf("stranger's filing %d: %d %s", i, resp.StatusCode, out)
		}
	}
	s.idle(t)
	before := len(s.mailsTo(t, victim))

	resp, out := s.doWith(t, clientFrom("127.0.92.1"), "POST", "/v1/rights-requests", "application/json",
		`{"email":"`+victim+`","type":"erasure","name":"Victoria"}`, map[string]string{"Accept": "text/html"})
	t.Logf("the person's own erasure: %d; the page says: %.300s", resp.StatusCode, strings.Join(strings.Fields(stripTags(out)), " "))
	s.idle(t)

	var own map[string]string
	for _, it := range s.items(t, "RequestsTable") {
		if str(it, "subject") == string(s.hasher.Subject(victim)) && str(it, "type") == "erasure" {
			own = map[string]string{"id": str(it, "id"), "status": str(it, "status"), "mail_due": str(it, "mail_due"),
				"mail_held": strings.Join(ss(it, "mail_held"), ",")}
		}
	}
	if own == nil {
		t.Fatal("the person's own erasure was not stored at all")
	}
	after := s.mailsTo(t, victim)
	team := localtest.Emails(t, s.svc, func(e localtest.Email) bool { return e.To(s.team) && strings.Contains(e.Subject, own["id"]) })
	t.Logf("stored: %v; emails to the person before their filing: %d, after: %d; team notices of it: %d", own, before, len(after), len(team))
	if len(after) == before {
		t.Errorf("ten filings from one IP by a stranger silenced the person's own erasure %s: no verification link reached them "+
			"(the only email they got was the stranger's request's), mail_held=%q", own["id"], own["mail_held"])
	}
	if len(team) == 0 {
		t.Errorf("the team was never told of the held request %s either: nobody will ask the person to verify, and it expires "+
			"unverified after 14 days (retention class unverified_rights_request)", own["id"])
	}
	if strings.Contains(s.logs.String(), victim) {
		t.Errorf("the victim's address is in the log")
	}
}

// X2. Every address a filing will mail counts against the per-address
// limit (issue #30 item 5): a mailbox gets at most RightsPerAddress (10)
// rights requests' emails a day whatever role it has in them, as requester
// or named by a filer (an agent's). The contact form's acknowledgements
// (5) and the signup's confirmation (3) have budgets of their own, by
// purpose (docs/features.md), and are not counted here.
func TestAbuseReview2OneMailboxIsMailedTwiceTheLimit(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	inbox := "bombed-" + u + "@example.com"
	a, b, c := clientFrom("127.0.93.1"), clientFrom("127.0.93.2"), clientFrom("127.0.93.3")
	for i := 0; i < 10; i++ {
		if resp, out := s.doWith(t, a, "POST", "/v1/rights-requests", "application/json",
			fmt.Sprintf(`{"email":"%s","type":"access","details":"ref %d"}`, inbox, i), nil); resp.StatusCode != 202 {
			t.Fatalf("requester filing %d: %d %s", i, resp.StatusCode, out)
		}
		if resp, out := s.doWith(t, b, "POST", "/v1/rights-requests", "application/json",
			fmt.Sprintf(`{"email":"p%d-%s@example.net","type":"access","relationship":"authorized_agent","agent_email":"%s"}`, i, u, inbox), nil); resp.StatusCode != 202 {
			t.Fatalf("agent filing %d: %d %s", i, resp.StatusCode, out)
		}
	}
	for i := 0; i < 5; i++ {
		if resp, out := s.doWith(t, c, "POST", "/v1/contact", "application/json",
			fmt.Sprintf(`{"name":"N","email":"%s","message":"hello %d"}`, inbox, i), nil); resp.StatusCode != 202 {
			t.Fatalf("contact %d: %d %s", i, resp.StatusCode, out)
		}
	}
	if resp, out := s.doWith(t, c, "POST", "/v1/subscriptions", "application/json",
		`{"email":"`+inbox+`","topics":["newsletter"],"consent":true}`, nil); resp.StatusCode != 202 {
		t.Fatalf("signup: %d %s", resp.StatusCode, out)
	}
	s.idle(t)
	got := localtest.Emails(t, s.svc, func(e localtest.Email) bool {
		return e.To(inbox) && !strings.Contains(e.Subject, "We received your message") && !strings.Contains(e.Subject, "confirm your subscription")
	})
	kinds := map[string]int{}
	for _, m := range got {
		subj := m.Subject
		if i := strings.IndexAny(subj, "0123456789"); i > 0 {
			subj = subj[:i]
		}
		kinds[subj]++
	}
	t.Logf("%d rights requests' emails reached %s: %v", len(got), inbox, kinds)
	if len(got) > 10 {
		t.Errorf("%d rights requests' emails reached one mailbox; RightsPerAddress is 10 a day", len(got))
	}
}

// providerLogin follows an authorization request to the identity
// provider's login form, signs user in there as a browser would, and
// returns the redirect back to redirect (with its code and state),
// which it does not follow.
func providerLogin(t *testing.T, authURL, redirect, user, password string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var back *url.URL
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) {
			back = r.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = c.PostForm(resp.Request.URL.String()+"/login", url.Values{"username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if back == nil || back.Query().Get("code") == "" {
		t.Fatalf("no code from the provider: %d %.300s", resp.StatusCode, b)
	}
	return back
}

// codeFlow signs user in at the provider by hand, not through the
// console, and redeems the code itself (a public client: PKCE is all it
// takes): what anyone whose account the provider signs in can do.
func codeFlow(t *testing.T, idp *localtest.IdP, redirect, user, password string) (idToken, accessToken string) {
	t.Helper()
	var disc struct {
		Auth  string `json:"authorization_endpoint"`
		Token string `json:"token_endpoint"`
	}
	resp, err := http.Get(idp.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	verifier := strings.Repeat("v", 40) + localtest.Unique() + localtest.Unique()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {idp.ClientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email profile"},
		"state": {"s" + localtest.Unique()}, "nonce": {"n" + localtest.Unique()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	code := providerLogin(t, disc.Auth+"?"+q.Encode(), redirect, user, password).Query().Get("code")
	resp, err = http.PostForm(disc.Token, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {idp.ClientID}, "code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		ID     string `json:"id_token"`
		Access string `json:"access_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &tok); err != nil || tok.ID == "" || tok.Access == "" {
		t.Fatalf("token exchange: %d %s", resp.StatusCode, raw)
	}
	return tok.ID, tok.Access
}

// consoleSession signs user in through the console (its /console/login,
// the provider's form, its callback) and returns the cookies the callback
// set, by name.
func consoleSession(t *testing.T, s *stack, user, password string) map[string]string {
	t.Helper()
	noFollow := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.URL + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var login string
	for _, c := range resp.Cookies() {
		if c.Name == session.LoginCookie {
			login = c.Value
		}
	}
	back := providerLogin(t, resp.Header.Get("Location"), s.URL+"/console/callback", user, password)
	resp, body := s.do(t, "GET", "/console/callback?"+back.RawQuery, "", "", map[string]string{"Cookie": session.LoginCookie + "=" + login})
	if resp.StatusCode != 200 {
		t.Fatalf("the console's callback: %d %.200s", resp.StatusCode, body)
	}
	out := map[string]string{}
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			out[c.Name] = c.Value
		}
	}
	return out
}

// cookiesOf is a Cookie header of the named values.
func cookiesOf(cookies map[string]string) map[string]string {
	var parts []string
	for k, v := range cookies {
		parts = append(parts, k+"="+v)
	}
	return map[string]string{"Cookie": strings.Join(parts, "; ")}
}

// X3. A removed member keeps the console. Removal is
// admin-remove-user-from-group + admin-user-global-sign-out: the member's
// tokens are revoked and their copied cookies refused. But the account
// still signs in, the app client is public (PKCE, no secret), and the
// authorizer takes the groups from the ID token. The removed member signs
// in once more by hand (the console's callback refuses them, the provider
// does not), takes the new, live access token and pairs it with their OLD
// ID token, which still names the team for the rest of its hour. The
// console's seal on the pair its callback received (pk_console_bind)
// refuses it, with or without the old seal.
func TestAbuseReview2RemovedMemberPairsOldIDTokenWithFreshAccessToken(t *testing.T) {
	t.Parallel()
	s, idp := startConsoleStack(t, nil)
	u := localtest.Unique()
	addr := "pair-" + u + "@example.com"
	id, _, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"erasure"}`)

	old := consoleSession(t, s, localtest.IdPTeamUser, localtest.IdPTeamPassword)
	if old[session.BindCookie] == "" {
		t.Fatalf("the callback set no seal: %v", old)
	}
	if resp, body := s.do(t, "GET", "/console", "", "", cookiesOf(old)); resp.StatusCode != 200 {
		t.Fatalf("the member's own session: %d %.200s", resp.StatusCode, body)
	}
	removed, err := http.PostForm(idp.Issuer+"/local/remove-from-group", url.Values{"username": {localtest.IdPTeamUser}, "group": {"privacy-team"}})
	if err != nil || removed.StatusCode != http.StatusNoContent {
		t.Fatalf("remove the member: %v %v", err, removed)
	}
	removed.Body.Close()
	if resp, _ := s.do(t, "GET", "/console", "", "", cookiesOf(old)); resp.StatusCode != 403 {
		t.Fatalf("the removed member's session after removal: %d", resp.StatusCode)
	}
	newID, newAT := codeFlow(t, idp, s.URL+"/console/callback", localtest.IdPTeamUser, localtest.IdPTeamPassword)
	for name, cookies := range map[string]map[string]string{
		"the new ID token (no group)":                          {session.SessionCookie: newID, session.AccessCookie: newAT},
		"the old ID token, a fresh access token, the old seal": {session.SessionCookie: old[session.SessionCookie], session.AccessCookie: newAT, session.BindCookie: old[session.BindCookie]},
		"the old ID token and a fresh access token, no seal":   {session.SessionCookie: old[session.SessionCookie], session.AccessCookie: newAT},
	} {
		cookies[session.CSRFCookie] = "x"
		if resp, body := s.do(t, "GET", "/console/requests/"+id, "", "", cookiesOf(cookies)); resp.StatusCode != 403 {
			t.Errorf("%s: admitted to the console (%d): %.120s", name, resp.StatusCode, strings.Join(strings.Fields(stripTags(body)), " "))
		}
		s.do(t, "POST", "/console/requests/"+id, "application/x-www-form-urlencoded", "csrf=x&action=deny&reason=Denied+by+a+removed+member", cookiesOf(cookies))
	}
	if by := s.ledgerBy(t, "request_denied"); len(by) > 0 {
		t.Errorf("the removed member denied request %s (ledger names %v)", id, by)
	}
}

// X4. Multi-line fields refuse format characters, but the team's own
// texts that people read (a denial's or extension's reason, a lift's
// reason, a completion's note, a policy summary) are taken as typed: a
// reason carrying U+202E (pasted, or from a hostile member) reaches the
// person's email reversed.
func TestAbuseReview2TeamReasonCarriesFormatCharacters(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	addr := "reason-" + u + "@example.com"
	id, verify, _ := s.fileAndOpen(t, addr, `{"email":"`+addr+`","type":"rectification","details":"Surname is Smyth"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	reason := "Please send your ID as \u202Efdp.exe\u202C or call \u200B+1 555 0100."
	// The team's text is refused as typed (the member sees why and
	// retypes it), and nothing is decided or sent.
	out, err := s.privacyctl(t, "deny", id, "-reason", reason)
	if err == nil || !strings.Contains(out, "invisible formatting characters") {
		t.Errorf("deny with a reversed reason: %v %s", err, out)
	}
	if out, err := s.privacyctl(t, "deny", id, "-reason", "Please send a copy of your ID."); err != nil {
		t.Fatalf("deny with a plain reason: %v %s", err, out)
	}
	m := s.mailTo(t, addr, "We cannot carry out your request")
	if strings.ContainsRune(m.Body.Text, '\u202E') || strings.ContainsRune(m.Body.HTML, '\u202E') || strings.ContainsRune(m.Body.Text, '\u200B') {
		t.Errorf("the team's reason reached the person with a bidi override / zero-width space: %q", m.Body.Text)
	}
	if by := s.ledgerBy(t, "request_denied"); len(by) != 1 {
		t.Errorf("%d denials recorded, want the plain one alone", len(by))
	}
}

// X5. Links minted before a move: status and export links answer only for
// the subject they were minted for, but a verification link does not: an
// erasure filed under the old address before the person moved, whose link
// sits in the old mailbox, erases the person's data under the NEW address
// when whoever holds the old mailbox clicks it after the move (the very
// case a move of address is for: an old mailbox the person lost).
func TestAbuseReview2OldAddressVerifyLinkActsAfterTheMove(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "moving-"+u+"@example.com", "moved-"+u+"@example.com"
	s.subscribed(t, old)
	// Filed under the old address (by its holder, or by anyone) and left unverified.
	_, oldVerify, _ := s.fileAndOpen(t, old, `{"email":"`+old+`","type":"erasure","details":"later"}`)

	// The person moves: verified, the new address confirms, the team approves.
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
	// The old mailbox's holder clicks the link they still have.
	resp, out := s.do(t, "POST", s.path(t, oldVerify), "", "", nil)
	t.Logf("old verification link after the move: %d %s", resp.StatusCode, out)
	s.idle(t)
	if resp.StatusCode == 200 && s.subscription(t, fresh) == nil {
		t.Errorf("a verification link mailed to the OLD address before the move erased the person's data under the new address")
	}
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// X7. Links minted before a move, the other way: an unsubscribe link in an
// email sent before the person's address moved (the confirmation receipt
// here; every newsletter carries one, and the List-Unsubscribe one-click)
// answers "unsubscribed" and suppresses the OLD key, which holds nothing
// any more; the moved subscription stays confirmed and unsuppressed, so
// marketing goes on to the new address.
func TestAbuseReview2OldUnsubscribeLinkAfterTheMoveUnsubscribesNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh := "unsub-old-"+u+"@example.com", "unsub-new-"+u+"@example.com"
	s.subscribed(t, old)
	unsubRE := regexp.MustCompile(`http://[^\s"<>]+/v1/unsubscribe\?token=[^\s"<>]+`)
	var unsub string
	for _, m := range localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool {
		return e.To(old) && unsubRE.MatchString(e.Body.Text)
	}) {
		unsub = unsubRE.FindString(m.Body.Text)
	}
	if unsub == "" {
		t.Fatal("no unsubscribe link in the old address's mail")
	}
	id, verify, _ := s.fileAndOpen(t, old, `{"email":"`+old+`","type":"rectification","field":"email","value":"`+fresh+`"}`)
	if resp, out := s.do(t, "POST", s.path(t, verify), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, out)
	}
	if resp, out := s.do(t, "POST", s.path(t, addressLink.FindString(s.mailTo(t, fresh, id).Body.Text)), "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("confirm: %d %s", resp.StatusCode, out)
	}
	if out, err := s.privacyctl(t, "approve", id); err != nil {
		t.Fatalf("approve: %v %s", err, out)
	}
	resp, out := s.do(t, "POST", s.path(t, unsub), "", "", nil)
	t.Logf("the pre-move unsubscribe link: %d %.200s", resp.StatusCode, out)
	sub := s.subscription(t, fresh)
	suppressed := false
	for _, it := range s.items(t, "SuppressionTable") {
		if str(it, "pk") == "S#"+string(s.hasher.Subject(fresh)) {
			suppressed = true
		}
	}
	if resp.StatusCode == 200 && sub != nil && str(sub, "status") == "confirmed" && !suppressed {
		t.Errorf("the person pressed unsubscribe (answered %d) and stays subscribed at the new address (status %q, no suppression)",
			resp.StatusCode, str(sub, "status"))
	}
}

// X5b. The same, as a leak: whoever holds the old mailbox (the reason a
// person moves) files, before the move, a portability request under the
// old address with their own address as the recipient, and leaves it
// unverified. After the move they verify it with the old link: the export
// of the person's data under the NEW key (the new address, what the person
// gave since) goes to them.
func TestAbuseReview2OldMailboxHolderGetsPostMoveExport(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	u := localtest.Unique()
	old, fresh, holder := "leak-old-"+u+"@example.com", "leak-new-"+u+"@example.com", "holder-"+u+"@example.net"
	_, pending, _ := s.fileAndOpen(t, old, `{"email":"`+old+`","type":"portability","recipient_email":"`+holder+`"}`)

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
	secret := "AFTER-THE-MOVE-" + u
	if resp, out := s.do(t, "POST", "/v1/contact", "application/json",
		`{"name":"Person","email":"`+fresh+`","message":"`+secret+`"}`, nil); resp.StatusCode != 202 {
		t.Fatalf("contact after the move: %d %s", resp.StatusCode, out)
	}
	s.idle(t)
	resp, out := s.do(t, "POST", s.path(t, pending), "", "", nil)
	t.Logf("the old mailbox's pending link after the move: %d %s", resp.StatusCode, out)
	got := localtest.WaitEmails(t, s.svc, 1, 20*time.Second, func(e localtest.Email) bool { return e.To(holder) && exportLink.MatchString(e.Body.Text) })
	if len(got) == 0 {
		return
	}
	_, raw := s.do(t, "GET", s.path(t, exportLink.FindString(got[0].Body.Text))+"&download=1", "", "", nil)
	if strings.Contains(raw, secret) || strings.Contains(raw, fresh) {
		t.Errorf("the old mailbox's holder received the person's post-move export (holds the new address: %v, the message written after the move: %v)",
			strings.Contains(raw, fresh), strings.Contains(raw, secret))
	}
}
