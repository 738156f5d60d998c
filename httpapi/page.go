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

// pageData is what assets/index.html renders: a tile per camera.
//
// The page's script streams the pictures of the tiles on screen over one
// connection, /wall/video (browsers open at most 6 connections per host,
// so an <img> stream per tile would leave the 7th black and the other
// links hanging), draws each part in its tile, and refreshes the tiles'
// state from /api/cameras every 2 s. A click on a tile shows that camera
// full size over its own stream (#camera=NAME), while the wall pauses.
// Without JavaScript, each tile is an <img> of its camera's stream
// (<noscript>, inert when scripts run) and keeps this first state; the
// streams themselves show an outage.
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

// page answers the browser page: a live tile per camera (pageData).
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
