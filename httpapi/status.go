package httpapi

import (
	"net/http"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
)

// statusAll answers the status of every camera, in config order.
func (a *api) statusAll(w http.ResponseWriter, _ *http.Request) {
	cams := a.cameras().cams
	all := make([]pipeline.Status, len(cams))
	for i, c := range cams {
		all[i] = c.Status()
	}
	writeJSON(w, http.StatusOK, all)
}

// status answers the status of one camera.
func (a *api) status(w http.ResponseWriter, _ *http.Request, cam Camera) {
	writeJSON(w, http.StatusOK, cam.Status())
}
