package rights

import (
	"context"
	"net/http"
	"net/url"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
	"github.com/privacykeeper/privacykeeper/shared/web"
)

// questionPage draws the question and the answer's form; form holds what
// was sent and its errors when a plain post is drawn again.
func questionPage(r httpapi.Request, req privacy.RightsRequest, status int, form web.Form) httpapi.Response {
	l := pages.Lang(r)
	deadline := l.T("answer.deadline", httpapi.Deadline(req.DueAt)[:10])
	if req.Regulation == privacy.RegulationGDPR {
		deadline += " " + l.T("answer.deadline_gdpr")
	}
	return pages.View(r, status, l.T("answer.title"), "answer", struct {
		Question, URL, Deadline string
		Form                    web.Form
	}{req.Question, r.Path + "?token=" + url.QueryEscape(httpapi.Query(r, "token")), deadline, form})
}

// answerPage handles GET …/answer: the team's question and a form; nothing
// changes (mail scanners follow links).
func (h *Handlers) answerPage(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	req, err := h.Question(ctx, linkOf(r))
	if err != nil {
		return httpapi.Response{}, err
	}
	return questionPage(r, req, http.StatusOK, web.Form{}), nil
}

// answer handles POST …/answer: Answer. An answer that is not valid is
// refused with the question drawn again for a browser.
func (h *Handlers) answer(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
	l := linkOf(r)
	in, err := httpapi.DecodeInput(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	text, err := privacy.ParseAnswer(in)
	if v, ok := privacy.AsValidation(err); ok {
		req, err := h.Question(ctx, l)
		if err != nil {
			return httpapi.Response{}, err
		}
		if httpapi.WantsHTML(r) {
			return questionPage(r, req, http.StatusBadRequest, web.Form{Values: map[string][]string{"answer": {text}},
				Errors: pages.Lang(r).Fields(v.Fields), Focus: true}), nil
		}
		return httpapi.Response{}, httpapi.Validation(v)
	}
	status, err := h.Answer(ctx, l, text, r.Site.PolicyVersion)
	if err != nil {
		return httpapi.Response{}, err
	}
	return pages.Answer(r, http.StatusOK, map[string]string{"id": l.ID, "status": string(status)}, "answered"), nil
}
