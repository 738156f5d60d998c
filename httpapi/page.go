package httpapi

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
)

//go:embed assets/index.html
var assets embed.FS

var pageTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))

// page answers the browser page: a live tile per camera.
func (a *api) page(w http.ResponseWriter, r *http.Request) {
	cams := a.cameras().cams
	names := make([]string, len(cams))
	for i, c := range cams {
		names[i] = c.Name()
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct{ Cameras []string }{names}); err != nil {
		requestLog(r).WithError(err).Error("render page")
		writeError(w, http.StatusInternalServerError, "render page")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(buf.Bytes())
}
