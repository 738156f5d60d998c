package httpapi

// The wall stream: every camera live over one connection.
//
// A page that shows each camera in its own <img src=".../video"> holds one
// connection per camera, and browsers open at most 6 HTTP/1.1 connections
// per host: a seventh camera would never load. The wall sends the frames of
// many cameras, each tagged with its camera's name, over one response, and
// the page draws each part in its camera's tile.
//
//	GET /wall/video?cameras=door,yard&profile=thumb&fps=5   (and HEAD)
//
// Query parameters, all optional:
//
//   - cameras: comma-separated camera names, in the order wanted (the
//     parameter may also be repeated); duplicates are ignored; absent or
//     empty: every camera, in config order. An unknown name answers 404
//     JSON {"error": "unknown camera \"x\""}.
//   - profile: the profile of every camera to stream (DESIGN.md
//     "Profiles"); default "thumb". A camera without it is streamed its
//     main stream instead; "main" streams the main streams. A profile
//     other than thumb that none of the cameras has answers 404 JSON
//     {"error": "unknown profile \"x\": none of the cameras has it"}.
//   - fps: a rate cap per camera, as on /cameras/{name}/video; an invalid
//     value answers 400 JSON naming the parameter.
//
// With auth on, the wall needs the same credentials as every path. It
// counts as one viewer toward max_viewers and as one toward each listed
// camera's max_viewers_per_camera; past either cap it answers 503 JSON with
// Retry-After. It acquires every listed feed while it is open (on-demand
// cameras start); HEAD answers the headers only and acquires nothing.
//
// Wire format. Response headers: Content-Type: multipart/mixed;
// boundary=frame (not x-mixed-replace: the parts of two cameras do not
// replace each other), Cache-Control: no-cache, no-store, must-revalidate,
// Pragma: no-cache, X-Accel-Buffering: no. The body opens with --frame\r\n
// at once, sent with the headers, and each part is followed by the next
// boundary in the same write:
//
//	--frame\r\n                                   (once, at the start)
//	Content-Type: image/jpeg\r\n
//	Content-Length: <n>\r\n
//	X-Camera: <camera name>\r\n
//	X-Profile: <profile served: the one asked, or main when the camera lacks it>\r\n
//	X-Timestamp: <unix seconds with ms, capture time>\r\n
//	X-No-Signal: 1\r\n                            (only on a "no signal" part)
//	\r\n
//	<n bytes of JPEG>\r\n--frame\r\n              (after every part)
//
// The newest frame of every camera comes first, at once, in the order
// listed; then each camera sends each new frame, so the parts of the
// cameras interleave as their frames come. While a camera sends nothing for
// 2 s, its own generated "no signal" JPEG comes every 2 s, tagged with its
// name and X-No-Signal: 1, while the other cameras go on. A slow connection
// queues nothing: once it accepts a write again, each camera sends its
// newest frame (those skipped meanwhile count in
// rtsp2mjpeg_dropped_frames_total of that camera and profile), and the
// cameras take turns, so none starves the others. A camera or profile
// removed by a config reload ends the response, so that the page asks again
// for what there is now. A connection that accepts no write for write_timeout
// (10 s) is closed.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/rtsp2mjpeg/rtsp2mjpeg/pipeline"
	"github.com/sirupsen/logrus"
)

// wallContentType is the Content-Type of the wall stream.
const wallContentType = "multipart/mixed; boundary=" + pipeline.Boundary

// wallTrailer ends a part of the wall and opens the next one.
var wallTrailer = []byte("\r\n--" + pipeline.Boundary + "\r\n")

// wall serves GET /wall/video: the feeds of several cameras over one
// connection (see the top of this file).
func (a *api) wall(w http.ResponseWriter, r *http.Request) {
	feeds, ok := a.wallFeeds(w, r)
	if !ok {
		return
	}
	gap, ok := fpsGap(w, r)
	if !ok {
		return
	}

	setStreamHeaders(w.Header(), wallContentType)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}

	names := make([]string, len(feeds))
	for i, fd := range feeds {
		names[i] = fd.cam.Name()
	}
	leave, err := a.viewers.join(a.cfg.MaxViewers, a.cfg.MaxViewersPerCamera, names...)
	if err != nil {
		tooManyViewers(w, map[string]string{"error": err.Error()})
		return
	}
	defer leave()
	for _, fd := range feeds {
		defer fd.feed.Acquire()()
	}
	out, ctx := takeConn(r.Context(), w, a.cfg.WriteTimeout, &a.sent)
	defer out.close()
	log := requestLog(r).WithFields(logrus.Fields{"cameras": strings.Join(names, ","), "profile": r.URL.Query().Get("profile")})
	log.Debug("wall viewer connected")
	if err := out.write([]byte(pipeline.StreamPreamble)); err != nil {
		log.WithError(err).Debug("wall viewer gone")
		return
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wc := &wallConn{out: out, cancel: cancel}
	streams := make([]*stream, len(feeds))
	for i, fd := range feeds {
		// The newest frame of each camera, in the order listed, before any
		// camera goes its own way.
		streams[i] = a.newStream(fd, gap, newWallTile(wc, fd))
		if err := streams[i].sendLatest(); err != nil {
			log.WithError(err).Debug("wall viewer gone")
			return
		}
	}
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			// A camera's share ends with the connection (ctx, or a failed
			// write that cancelled it for all). A feed that is gone (its
			// camera or profile removed by a reload) ends the response: the
			// page asks again, and gets the cameras and profiles there are
			// now, instead of a tile frozen on its last picture.
			if err := s.run(ctx); err != nil && ctx.Err() == nil {
				log.WithError(err).WithField("camera", names[i]).Debug("wall feed gone: ending the wall")
				cancel()
			}
		})
	}
	wg.Wait()
	log.WithError(wc.failed()).Debug("wall viewer gone")
}

// wallFeeds resolves the cameras and profile of a wall request, answering
// 404 for an unknown camera or profile.
func (a *api) wallFeeds(w http.ResponseWriter, r *http.Request) ([]feedOf, bool) {
	set := a.cameras()
	q := r.URL.Query()
	var cams []Camera
	seen := map[string]bool{}
	for _, v := range q["cameras"] {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" || seen[name] {
				continue
			}
			cam, ok := set.byName[name]
			if !ok {
				writeError(w, http.StatusNotFound, fmt.Sprintf("unknown camera %q", name))
				return nil, false
			}
			seen[name] = true
			cams = append(cams, cam)
		}
	}
	if len(cams) == 0 {
		cams = set.cams
	}
	if len(cams) == 0 {
		writeError(w, http.StatusNotFound, "no camera configured")
		return nil, false
	}

	profile := q.Get("profile")
	if profile == "" {
		profile = pipeline.ThumbProfile
	}
	// The default profile, asked for or not, is never unknown: a wall of
	// cameras without it shows their main streams.
	mustExist := profile != pipeline.ThumbProfile
	feeds := make([]feedOf, len(cams))
	found := profile == pipeline.MainProfile
	for i, cam := range cams {
		fd, ok := cameraFeed(cam, profile)
		if ok {
			found = true
		} else {
			fd, _ = cameraFeed(cam, pipeline.MainProfile) // the camera lacks it: its main stream
		}
		feeds[i] = fd
	}
	if mustExist && !found {
		msg := fmt.Sprintf("unknown profile %q: none of the cameras has it", profile)
		if len(cams) == 1 {
			msg = fmt.Sprintf("unknown profile %q of camera %q", profile, cams[0].Name())
		}
		writeError(w, http.StatusNotFound, msg)
		return nil, false
	}
	return feeds, true
}

// wallConn is the connection that the cameras of a wall share.
type wallConn struct {
	// mu serializes the parts on the connection and guards out and err.
	// sync.Mutex queues its waiters in order and, once one has waited
	// more than 1 ms, hands the lock over in that order (its starvation
	// mode): on a slow connection the cameras take turns, and on a fast
	// one nobody waits long. TestWallFair checks it.
	mu     sync.Mutex
	out    sink
	err    error              // the first failed write: the connection is done
	cancel context.CancelFunc // ends every camera of the wall
}

func (c *wallConn) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wallTile writes the parts of one camera on a wall's connection. Its
// buffers are reused for every part, so a part costs no allocation.
type wallTile struct {
	conn    *wallConn
	feed    pipeline.Feed
	fixed   []byte      // "\r\nX-Camera: <name>\r\nX-Profile: <profile>\r\nX-Timestamp: "
	hdr     []byte      // the header of the part being written; guarded by conn.mu
	vec     [3][]byte   // header, JPEG, trailer
	buffers net.Buffers // vec, consumed by the write
}

func newWallTile(conn *wallConn, fd feedOf) *wallTile {
	fixed := "\r\nX-Camera: " + fd.cam.Name() + "\r\nX-Profile: " + fd.profile + "\r\nX-Timestamp: "
	return &wallTile{
		conn:  conn,
		feed:  fd.feed,
		fixed: []byte(fixed),
		hdr:   make([]byte, 0, 128+len(fixed)),
	}
}

// writeFrame writes f, or the feed's newest frame if a newer one came
// while the connection was busy, as a part tagged with the camera's name,
// in one writev: the JPEG is not copied.
func (t *wallTile) writeFrame(f *pipeline.Frame) (*pipeline.Frame, error) {
	c := t.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return f, c.err
	}
	if f.Seq != 0 { // a frame of the feed, not a placeholder
		// The wait for the connection may have been long: no old frame.
		if l := t.feed.Latest(); l != nil && l.Seq > f.Seq {
			f.Release()
			f = l
		} else {
			l.Release()
		}
	}
	h := append(t.hdr[:0], "Content-Type: image/jpeg\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(f.JPEG)), 10)
	h = append(h, t.fixed...)
	h = pipeline.AppendTimestamp(h, f.At)
	if f.NoSignal {
		h = append(h, "\r\nX-No-Signal: 1"...)
	}
	h = append(h, "\r\n\r\n"...)
	t.hdr = h
	t.vec = [3][]byte{h, f.JPEG, wallTrailer}
	t.buffers = t.vec[:]
	if err := c.out.writeBuffers(&t.buffers); err != nil {
		c.err = err
		c.cancel() // one failed write ends the whole connection
		return f, err
	}
	return f, nil
}
