package synthcam

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

const authRealm = "synthcam"

// handler serves the RTSP requests of one gortsplib.Server instance (a new
// one is made each time the camera comes up).
type handler struct {
	c   *Camera
	srv *gortsplib.Server
}

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.c.log.WithField("remote", ctx.Conn.NetConn().RemoteAddr().String()).Debug("rtsp conn opened")
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.c.log.WithField("remote", ctx.Conn.NetConn().RemoteAddr().String()).
		WithField("reason", ctx.Error).Debug("rtsp conn closed")
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.readers, ctx.Session)
	if ctx.Session == c.publisher {
		c.log.WithField("reason", ctx.Error).Info("publisher gone, dropping readers")
		c.publisher = nil
		if c.stream != nil {
			// Closes every reader session of the stream.
			c.stream.Close()
			c.stream = nil
		}
	}
}

// checkReader validates the path and credentials of a reader's request; it
// returns nil when the request may go on.
func (h *handler) checkReader(path string, req *base.Request) *base.Response {
	c := h.c
	if !c.cfg.AnyPath && normPath(path) != c.cfg.Path {
		return &base.Response{StatusCode: base.StatusNotFound}
	}
	if c.cfg.User != "" {
		if !h.authorized(req) {
			return &base.Response{
				StatusCode: base.StatusUnauthorized,
				Header: base.Header{
					"WWW-Authenticate": auth.GenerateWWWAuthenticate(c.authMethods, authRealm, c.nonce),
				},
			}
		}
	}
	return nil
}

// authorized checks the request's credentials. Basic is checked here rather
// than by gortsplib, which rejects passwords containing ':' (RFC 7617 allows
// them).
func (h *handler) authorized(req *base.Request) bool {
	c := h.c
	if v := req.Header["Authorization"]; len(v) == 1 && strings.HasPrefix(v[0], "Basic ") {
		if !slices.Contains(c.authMethods, auth.ValidateMethodBasic) {
			return false
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(v[0], "Basic ")))
		if err != nil {
			return false
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		return ok && user == c.cfg.User && pass == c.cfg.Pass
	}
	return auth.Validate(req, c.cfg.User, c.cfg.Pass, c.authMethods, authRealm, c.nonce) == nil
}

func (h *handler) currentStream() *gortsplib.ServerStream {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.c.stream
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res := h.checkReader(ctx.Path, ctx.Request); res != nil {
		return res, nil, nil
	}
	st := h.currentStream()
	if st == nil {
		// Up, but the publisher is (re)connecting.
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	c := h.c
	if ctx.Path != c.feedPath {
		return &base.Response{StatusCode: base.StatusForbidden}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != h.srv {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil
	}
	if c.stream != nil {
		// A stale publisher: replace it.
		c.stream.Close()
		c.stream = nil
	}
	if c.publisher != nil {
		c.publisher.Close()
	}
	c.stream = gortsplib.NewServerStream(h.srv, ctx.Description)
	c.publisher = ctx.Session
	c.log.Debug("publisher announced")
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		// The publisher, whose path OnAnnounce checked.
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	if res := h.checkReader(ctx.Path, ctx.Request); res != nil {
		return res, nil, nil
	}
	if st := ctx.Session.SetuppedStream(); st != nil {
		// Second SETUP of a session: stay on its stream.
		return &base.Response{StatusCode: base.StatusOK}, st, nil
	}
	st := h.currentStream()
	if st == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st, nil
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	if res := h.checkReader(ctx.Path, ctx.Request); res != nil {
		return res, nil
	}
	c := h.c
	c.mu.Lock()
	c.readers[ctx.Session] = normPath(ctx.Path)
	c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	c := h.c
	c.mu.Lock()
	st := c.stream
	ok := ctx.Session == c.publisher && st != nil
	c.mu.Unlock()
	if !ok {
		return &base.Response{StatusCode: base.StatusBadRequest}, nil
	}

	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		_ = st.WritePacketRTP(medi, pkt) // fails only once the stream is closed
		c.packets.Add(1)
		if !c.publishing.Load() {
			c.markPublishing()
		}
	})
	// Forward the publisher's own sender reports rather than let the server
	// make up some: when the publisher is frozen, nothing at all flows.
	ctx.Session.OnPacketRTCPAny(func(medi *description.Media, pkt rtcp.Packet) {
		if sr, ok := pkt.(*rtcp.SenderReport); ok {
			_ = st.WritePacketRTCP(medi, sr)
		}
	})
	c.log.Info("publisher recording")
	return &base.Response{StatusCode: base.StatusOK}, nil
}
