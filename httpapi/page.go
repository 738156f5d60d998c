package httpapi

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

//go:embed assets/index.html
var assets embed.FS

var pageTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))

// pageData is what assets/index.html renders. The page's script refreshes
// the tiles from /api/cameras every 2 s; without JavaScript the tiles keep
// this first state, and the streams themselves show an outage.
type pageData struct {
	Cameras []tile
	Token   string // the page's ?token=, repeated on every link (auth for <img>)
}

// tile is one camera on the page.
type tile struct {
	Name      string
	State     pipeline.State
	Down      bool // not streaming: the placeholder covers the picture
	FPS       float64
	LastError string
	Since     string // when the last frame came
}

// page answers the browser page: a live tile per camera.
func (a *api) page(w http.ResponseWriter, r *http.Request) {
	cams := a.cameras().cams
	data := pageData{Cameras: make([]tile, len(cams)), Token: r.URL.Query().Get("token")}
	for i, c := range cams {
		st := c.Status()
		data.Cameras[i] = tile{
			Name:      c.Name(),
			State:     st.State,
			Down:      st.State != pipeline.StateStreaming,
			FPS:       st.FPS,
			LastError: st.LastError,
			Since:     "no frame yet",
		}
		if st.LastFrameAt != nil {
			data.Cameras[i].Since = "no frame since " + st.LastFrameAt.Format(time.DateTime+" MST")
		}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
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
