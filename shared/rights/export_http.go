package rights

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/privacykeeper/privacykeeper/shared/httpapi"
	"github.com/privacykeeper/privacykeeper/shared/links"
	"github.com/privacykeeper/privacykeeper/shared/pages"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// serveExport serves GET /v1/rights-requests/{id}/export?token=E: the
// export, built now from the tables (no stored copy), for 7 days, as
// format=json (also download=1, and what a caller that is not a browser
// gets), format=csv or format=html (the printable page of Readable); a
// browser without a format gets the page that offers the three.
func (h *Handlers) serveExport(rd Reader, company string) httpapi.HandlerFunc {
	return func(ctx context.Context, r httpapi.Request) (httpapi.Response, error) {
		req, err := h.Exportable(ctx, linkOf(r))
		if err != nil {
			return httpapi.Response{}, err
		}
		format := httpapi.Query(r, "format")
		if httpapi.Query(r, "download") != "" {
			format = "json" // the links of copies sent before formats
		}
		self := httpapi.SelfLink(r)
		if format == "" && httpapi.WantsHTML(r) {
			// A browser gets a page first: what this is, until when, and
			// the ways to read it.
			return pages.View(r, http.StatusOK, pages.Lang(r).T("export.title"), "export", struct{ Until, Read, CSV, JSON string }{
				req.CompletedAt.Add(links.ExportValidity).Format("2006-01-02"), self + "&format=html", self + "&format=csv",
				self + "&format=json"}), nil
		}
		ex, err := ExportFor(ctx, rd, company, req, r.Site.Bases, h.Now())
		if err != nil {
			return httpapi.Response{}, err
		}
		h.Log.InfoContext(ctx, "export served", "rights_request_id", req.ID, "format", format)
		switch format {
		case "html":
			return pages.View(r, http.StatusOK, pages.Lang(r).T("copy.title"), "copy", Readable(ex)), nil
		case "csv":
			var b strings.Builder
			if err := WriteCSV(&b, ex); err != nil {
				return httpapi.Response{}, fmt.Errorf("export csv: %w", err)
			}
			return httpapi.Response{StatusCode: http.StatusOK, Body: b.String(), Headers: map[string]string{
				"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
				"Content-Disposition": `attachment; filename="my-data-` + req.ID + `.csv"`}}, nil
		case "", "json":
			resp := httpapi.JSON(http.StatusOK, ex)
			resp.Headers["Content-Disposition"] = `attachment; filename="my-data-` + req.ID + `.json"`
			return resp, nil
		}
		return httpapi.Response{}, errFormat
	}
}

var errFormat = &httpapi.Error{Status: http.StatusBadRequest, Code: "validation_failed",
	Message: "format must be html, csv or json.", Fields: privacy.FieldErrors{"format": privacy.OneOf("html", "csv", "json")}}
