package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/token"
)

var (
	ann   = privacy.SubjectID(strings.Repeat("a1", 32))
	bob   = privacy.SubjectID(strings.Repeat("b2", 32))
	moved = privacy.SubjectID(strings.Repeat("c3", 32))
	now   = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
)

type fakeStore struct {
	unsubscribed []privacy.Event
	forward      map[privacy.SubjectID]privacy.SubjectID
	movedAt      time.Time
	fail         error
}

func (f *fakeStore) Unsubscribe(_ context.Context, s privacy.SubjectID, e privacy.Event) error {
	if f.fail != nil {
		return f.fail
	}
	if e.Subject != s {
		return errors.New("event of another subject")
	}
	f.unsubscribed = append(f.unsubscribed, e)
	return nil
}

func (f *fakeStore) Forward(_ context.Context, s privacy.SubjectID) (privacy.SubjectID, time.Time, error) {
	if to, ok := f.forward[s]; ok {
		return to, f.movedAt, nil
	}
	return s, time.Time{}, nil
}

func message(spam string, to ...string) Record {
	var r Record
	r.EventSource = "aws:ses"
	r.SES.Mail.MessageID = "m-1"
	r.SES.Receipt = Receipt{Recipients: to, SpamVerdict: Verdict{spam}, VirusVerdict: Verdict{"PASS"}}
	return r
}

func TestInvoke(t *testing.T) {
	tokens, err := token.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	b := links.Builder{Tokens: tokens, MailDomain: "unsub.example.com"}
	addr := func(s privacy.SubjectID, at time.Time) string {
		m, err := b.UnsubscribeMail(s, at)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(m, "mailto:")
	}
	annAddr, bobAddr := addr(ann, now), addr(bob, now)
	expired := addr(ann, now.Add(-links.MarketingValidity-time.Hour))
	otherKey, _ := token.New([]byte("another key of thirty-two bytes!!"))
	forged, _ := links.Builder{Tokens: otherKey, MailDomain: "unsub.example.com"}.UnsubscribeMail(ann, now)
	flipped := []byte(annAddr)
	flipped[10] ^= 1 // 'a'..'z' stay letters: still base32, the MAC fails
	// A URL token (another purpose's form) as a local part.
	prefs, _ := links.Builder{Tokens: tokens}.Preferences(ann, now.Add(time.Hour))
	_, urlTok, _ := strings.Cut(prefs, "token=")

	tests := []struct {
		name   string
		event  Event
		store  fakeStore
		want   Result
		gone   []privacy.SubjectID // unsubscribed, in order
		detail map[string]string   // of the first ledger event
	}{
		{name: "one address", event: Event{[]Record{message("PASS", annAddr)}},
			want: Result{Unsubscribed: 1}, gone: []privacy.SubjectID{ann}, detail: map[string]string{"channel": "mailto"}},
		{name: "upper case, as a relay may write it", event: Event{[]Record{message("PASS", strings.ToUpper(annAddr))}},
			want: Result{Unsubscribed: 1}, gone: []privacy.SubjectID{ann}},
		{name: "the scan found spam", event: Event{[]Record{message("FAIL", annAddr)}}, want: Result{Spam: 1}},
		{name: "gray is not a fail", event: Event{[]Record{message("GRAY", annAddr)}},
			want: Result{Unsubscribed: 1}, gone: []privacy.SubjectID{ann}},
		{name: "many addresses, each once", event: Event{[]Record{message("PASS", annAddr, bobAddr, annAddr,
			strings.ToUpper(bobAddr), addr(ann, now.Add(-time.Hour)))}},
			want: Result{Unsubscribed: 2, Ignored: 3}, gone: []privacy.SubjectID{ann, bob}},
		{name: "altered local part", event: Event{[]Record{message("PASS", string(flipped))}}, want: Result{Ignored: 1}},
		{name: "another key's", event: Event{[]Record{message("PASS", strings.TrimPrefix(forged, "mailto:"))}}, want: Result{Ignored: 1}},
		{name: "expired", event: Event{[]Record{message("PASS", expired)}}, want: Result{Ignored: 1}},
		{name: "another domain", event: Event{[]Record{message("PASS", strings.Replace(annAddr, "@unsub.", "@other.", 1))}},
			want: Result{Ignored: 1}},
		{name: "a plain address", event: Event{[]Record{message("PASS", "privacy@unsub.example.com", "no-at-sign")}},
			want: Result{Ignored: 2}},
		{name: "a URL token", event: Event{[]Record{message("PASS", urlTok+"@unsub.example.com")}}, want: Result{Ignored: 1}},
		{name: "not from SES", event: Event{[]Record{func() Record { r := message("PASS", annAddr); r.EventSource = "aws:sns"; return r }()}},
			want: Result{Ignored: 1}},
		{name: "an address left before the token was minted: its own key",
			event: Event{[]Record{message("PASS", annAddr)}},
			store: fakeStore{forward: map[privacy.SubjectID]privacy.SubjectID{ann: moved}, movedAt: now.Add(-time.Hour)},
			want:  Result{Unsubscribed: 1}, gone: []privacy.SubjectID{ann}, detail: map[string]string{"channel": "mailto"}},
		{name: "an address left after the token was minted follows the person",
			event: Event{[]Record{message("PASS", annAddr)}},
			store: fakeStore{forward: map[privacy.SubjectID]privacy.SubjectID{ann: moved}, movedAt: now.Add(2 * time.Hour)},
			want:  Result{Unsubscribed: 1}, gone: []privacy.SubjectID{moved}, detail: map[string]string{"channel": "mailto", "via": "forward"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := &Handler{Store: &tt.store, Tokens: tokens, Domain: "Unsub.Example.com",
				Policy: func(context.Context) privacy.PolicyVersion { return privacy.PolicyVersion{Version: "v9"} },
				Now:    func() time.Time { return now }, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
			got, err := h.Invoke(context.Background(), tt.event)
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			var gone []privacy.SubjectID
			for _, e := range tt.store.unsubscribed {
				gone = append(gone, e.Subject)
				if e.Name != "unsubscribed" || e.PolicyVersion != "v9" || e.Purpose != privacy.PurposeMarketing || !e.At.Equal(now) {
					t.Errorf("ledger event %+v", e)
				}
			}
			if !slices.Equal(gone, tt.gone) {
				t.Fatalf("unsubscribed %v, want %v", gone, tt.gone)
			}
			if tt.detail != nil && !maps.Equal(tt.store.unsubscribed[0].Detail, tt.detail) {
				t.Errorf("detail %v, want %v", tt.store.unsubscribed[0].Detail, tt.detail)
			}
			for _, secret := range []string{annAddr, bobAddr, strings.Split(annAddr, "@")[0][:20], string(ann), string(bob)} {
				if strings.Contains(strings.ToLower(logs.String()), secret) {
					t.Errorf("a log line names an address, a token or a subject: %s", logs.String())
				}
			}
		})
	}
}

// A store that fails fails the invocation, so Lambda tries the event again.
func TestInvokeFailsWhenTheStoreDoes(t *testing.T) {
	tokens, _ := token.New([]byte("0123456789abcdef0123456789abcdef"))
	m, _ := links.Builder{Tokens: tokens, MailDomain: "unsub.example.com"}.UnsubscribeMail(ann, now)
	h := &Handler{Store: &fakeStore{fail: errors.New("throttled")}, Tokens: tokens, Domain: "unsub.example.com",
		Policy: func(context.Context) privacy.PolicyVersion { return privacy.PolicyVersion{} },
		Now:    func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
	if _, err := h.Invoke(context.Background(), Event{[]Record{message("PASS", strings.TrimPrefix(m, "mailto:"))}}); err == nil {
		t.Fatal("a failed unsubscription was not reported")
	}
}

// The sample event decodes into what the handler reads.
func TestSampleEvent(t *testing.T) {
	b, err := os.ReadFile("../../events/unsubscribemail-ses-inbound.json")
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	if err := json.Unmarshal(b, &e); err != nil || len(e.Records) != 1 || e.Records[0].EventSource != "aws:ses" ||
		len(e.Records[0].SES.Receipt.Recipients) != 1 || e.Records[0].SES.Receipt.SpamVerdict.Status != "PASS" {
		t.Fatalf("sample event %+v (%v)", e, err)
	}
}
