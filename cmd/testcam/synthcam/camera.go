package synthcam

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/sirupsen/logrus"
)

// publisherReadTimeout is how long the server waits for a packet from the
// publisher before dropping it. Pause must be able to freeze the camera for
// as long as a test likes, so this is (almost) forever rather than
// gortsplib's 10 s.
const publisherReadTimeout = 24 * time.Hour

type camState int

const (
	stateDown camState = iota
	stateUp
	stateClosed
)

// Camera is a running synthetic RTSP camera. Its methods are safe for
// concurrent use; lifecycle methods (Reboot, Stop, Restart, Close) are
// serialized.
type Camera struct {
	cfg         Config
	log         *logrus.Entry
	feedPath    string
	nonce       string
	authMethods []auth.ValidateMethod
	ffmpegPath  string

	closing   chan struct{} // closed when Close begins; interrupts waits
	closeOnce sync.Once

	opMu       sync.Mutex // serializes lifecycle operations
	listenAddr string     // guarded by opMu; fixed host:port once bound
	udpRTP     int        // guarded by opMu; the RTP port with Config.UDP, 0 before the first bring-up
	addr       atomic.Value

	packets    atomic.Uint64
	publishing atomic.Bool // first packet since the last bring-up seen

	mu        sync.Mutex
	state     camState
	srv       *gortsplib.Server
	ln        net.Listener // srv's listener
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
	readers   map[*gortsplib.ServerSession]string // playing sessions, and the path each asked for
	ready     chan struct{}                       // closed with publishing set
	proc      *os.Process                         // current ffmpeg, nil when none
	paused    bool
	feedStop  context.CancelFunc
	feedDone  chan struct{}
	feedErr   error    // last abnormal end of the publisher
	stderr    []string // last lines of the publisher's stderr
	restarts  int
}

// Start starts a camera: it listens, starts the ffmpeg publisher and returns
// once the first packets from it have been received, bounded by
// cfg.StartTimeout and ctx. ctx bounds only the start (as in DialContext):
// the camera runs until Close.
func Start(ctx context.Context, cfg Config) (*Camera, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	ffmpegPath, err := exec.LookPath(cfg.FFmpeg)
	if err != nil {
		return nil, fmt.Errorf("synthcam: ffmpeg: %w", err)
	}
	methods, _ := cfg.authMethods()
	c := &Camera{
		cfg:         cfg,
		log:         cfg.Log,
		feedPath:    "/synthcam-feed-" + randomHex(8),
		nonce:       randomHex(16),
		authMethods: methods,
		ffmpegPath:  ffmpegPath,
		closing:     make(chan struct{}),
		listenAddr:  cfg.Addr,
		readers:     make(map[*gortsplib.ServerSession]string),
	}
	if c.log == nil {
		l := logrus.New()
		l.Out = io.Discard
		c.log = logrus.NewEntry(l)
	}
	c.log = c.log.WithField("component", "synthcam")

	c.opMu.Lock()
	defer c.opMu.Unlock()
	if err := c.up(ctx); err != nil {
		c.state = stateClosed
		return nil, err
	}
	c.log.WithField("url", c.redactedURL()).Info("camera up")
	return c, nil
}

// URL is the reader URL, rtsp://[user:pass@]host:port/path.
func (c *Camera) URL() string {
	u := url.URL{Scheme: "rtsp", Host: c.Addr(), Path: c.cfg.Path}
	if c.cfg.User != "" {
		u.User = url.UserPassword(c.cfg.User, c.cfg.Pass)
	}
	return u.String()
}

func (c *Camera) redactedURL() string {
	u := url.URL{Scheme: "rtsp", Host: c.Addr(), Path: c.cfg.Path}
	if c.cfg.User != "" {
		u.User = url.UserPassword(c.cfg.User, "xxxxx")
	}
	return u.String()
}

// Addr is the host:port the camera listens on (and readers should dial); it
// does not change across Reboot, Stop and Restart.
func (c *Camera) Addr() string {
	a, _ := c.addr.Load().(string)
	return a
}

// Config returns the camera's configuration with defaults applied.
func (c *Camera) Config() Config { return c.cfg }

// PublisherPID is the process id of the current ffmpeg publisher, 0 when
// there is none (down, closed, or between a crash and its restart).
func (c *Camera) PublisherPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid
}

// Packets is the number of RTP packets received from the publisher (and
// relayed to readers) since Start, over all restarts.
func (c *Camera) Packets() uint64 { return c.packets.Load() }

// Readers is the number of reader sessions currently playing.
func (c *Camera) Readers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.readers)
}

// ReadersByPath is the number of reader sessions currently playing, by the
// path each asked for (with AnyPath, one camera serves several names).
func (c *Camera) ReadersByPath() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]int{}
	for _, p := range c.readers {
		m[p]++
	}
	return m
}

// ReaderTracks is, for each reader session currently playing, how many of
// the camera's tracks (video, audio) it set up, in no order.
func (c *Camera) ReaderTracks() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n []int
	for s := range c.readers {
		n = append(n, len(s.SetuppedMedias()))
	}
	return n
}

// PublisherRestarts is how many times the publisher exited unexpectedly
// while the camera was up and was restarted.
func (c *Camera) PublisherRestarts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts
}

// IsUp tells whether the camera is listening (between Start/Restart/Reboot
// and Stop/Close).
func (c *Camera) IsUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateUp
}

// IsPaused tells whether the publisher is frozen by Pause.
func (c *Camera) IsPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// Pause freezes the publisher with SIGSTOP: every RTSP connection (the
// publisher's and the readers') stays open, but no RTP or RTCP packet flows,
// as from a hung camera. Readers can still connect (DESCRIBE/SETUP/PLAY
// succeed) but get nothing. Pausing a paused camera is a no-op.
func (c *Camera) Pause() error {
	return c.setPaused(true)
}

// Resume undoes Pause with SIGCONT; packets flow again on the same sessions.
// After a pause of more than 2 s the publisher's clock resets: it goes on at
// the normal rate, with no burst of the frames it missed.
func (c *Camera) Resume() error {
	return c.setPaused(false)
}

func (c *Camera) setPaused(p bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case stateClosed:
		return ErrClosed
	case stateDown:
		return ErrDown
	}
	if c.paused == p {
		return nil
	}
	c.paused = p
	if c.proc != nil {
		if err := signalProc(c.proc, p); err != nil {
			return fmt.Errorf("synthcam: signal publisher: %w", err)
		}
	}
	if p {
		c.log.Info("camera paused")
	} else {
		c.log.Info("camera resumed")
	}
	return nil
}

// Reboot simulates a camera reboot: it stops the publisher and closes the
// RTSP server (listener and every session, so readers see their connection
// drop and new connections are refused) for down, then listens again on the
// same port, restarts the publisher and returns once it publishes again.
// A paused camera comes back unpaused.
func (c *Camera) Reboot(down time.Duration) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if err := c.checkOpen(); err != nil {
		return err
	}
	c.log.WithField("down", down).Info("camera rebooting")
	c.down()
	if down > 0 {
		t := time.NewTimer(down)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.closing:
			return ErrClosed
		}
	}
	return c.up(context.Background())
}

// Stop takes the camera down as the first half of Reboot: publisher killed,
// server closed, connections refused, until Restart. Stopping a stopped
// camera is a no-op.
func (c *Camera) Stop() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if err := c.checkOpen(); err != nil {
		return err
	}
	c.log.Info("camera stopping")
	c.down()
	return nil
}

// Restart brings a stopped camera back on the same port and returns once it
// publishes. Restarting a camera that is up is a no-op.
func (c *Camera) Restart() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if err := c.checkOpen(); err != nil {
		return err
	}
	c.mu.Lock()
	up := c.state == stateUp
	c.mu.Unlock()
	if up {
		return nil
	}
	return c.up(context.Background())
}

// Close stops everything: the publisher is killed and waited for, the
// server and every session closed and every goroutine of the camera ended
// when it returns. It is idempotent.
func (c *Camera) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	if st == stateClosed {
		return nil
	}
	c.down()
	c.mu.Lock()
	c.state = stateClosed
	c.mu.Unlock()
	c.log.Info("camera closed")
	return nil
}

// checkOpen is called with opMu held.
func (c *Camera) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed {
		return ErrClosed
	}
	return nil
}

// up listens, starts the publisher and waits for its first packet. It is
// called with opMu held and the camera down; on error it leaves it down.
func (c *Camera) up(ctx context.Context) error {
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}

	h := &handler{c: c}
	var ln net.Listener
	srv := &gortsplib.Server{
		Handler:                  h,
		RTSPAddress:              c.listenAddr,
		ReadTimeout:              publisherReadTimeout,
		DisableRTCPSenderReports: true,
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			ln = l
			return l, err
		},
	}
	if c.cfg.UDP {
		if c.udpRTP == 0 {
			p, err := freeUDPPair()
			if err != nil {
				return err
			}
			c.udpRTP = p
		}
		srv.UDPRTPAddress = "127.0.0.1:" + strconv.Itoa(c.udpRTP)
		srv.UDPRTCPAddress = "127.0.0.1:" + strconv.Itoa(c.udpRTP+1)
	}
	h.srv = srv
	if err := srv.Start(); err != nil {
		return fmt.Errorf("synthcam: listen on %s: %w", c.listenAddr, err)
	}
	// Keep the port for the next bring-up.
	c.listenAddr = ln.Addr().String()
	c.addr.Store(dialAddr(c.listenAddr))

	feedCtx, feedStop := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{})
	c.mu.Lock()
	c.state = stateUp
	c.srv = srv
	c.ln = ln
	c.ready = ready
	c.publishing.Store(false)
	c.paused = false
	c.feedErr = nil
	c.stderr = nil
	c.feedStop = feedStop
	c.feedDone = done
	c.mu.Unlock()

	target := "rtsp://" + c.Addr() + c.feedPath
	go c.runFeed(feedCtx, c.cfg.ffmpegArgs(target), done)

	start := time.Now()
	t := time.NewTimer(c.cfg.StartTimeout)
	defer t.Stop()
	var err error
	select {
	case <-ready:
		c.log.WithField("after", time.Since(start).Round(time.Millisecond)).Debug("publisher publishing")
		return nil
	case <-t.C:
		c.mu.Lock()
		if c.feedErr != nil {
			err = fmt.Errorf("synthcam: no packet from the ffmpeg publisher within %v (last exit: %v)",
				c.cfg.StartTimeout, c.feedErr)
		} else {
			err = fmt.Errorf("synthcam: no packet from the ffmpeg publisher within %v (stderr: %q)",
				c.cfg.StartTimeout, c.stderr)
		}
		c.mu.Unlock()
	case <-ctx.Done():
		err = fmt.Errorf("synthcam: start: %w", ctx.Err())
	case <-c.closing:
		err = ErrClosed
	}
	c.down()
	return err
}

// down takes the camera off the network: it closes the listener first, so
// that connections are refused from then on (on that, the server tears down
// every connection and session), then kills the publisher and waits for it,
// then waits for the server to end. It is called with opMu held.
func (c *Camera) down() {
	c.mu.Lock()
	if c.state != stateUp {
		c.mu.Unlock()
		return
	}
	c.state = stateDown
	srv, ln, feedStop, feedDone := c.srv, c.ln, c.feedStop, c.feedDone
	c.srv, c.ln, c.feedStop, c.feedDone = nil, nil, nil, nil
	c.paused = false
	c.mu.Unlock()

	shutdownListener(ln)
	_ = ln.Close()
	feedStop()
	<-feedDone
	// Not under mu: closing sessions calls OnSessionClose, which takes it.
	srv.Close()

	c.mu.Lock()
	if c.stream != nil {
		c.stream.Close()
		c.stream = nil
	}
	c.publisher = nil
	clear(c.readers)
	c.mu.Unlock()
}

func (c *Camera) markPublishing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.publishing.Load() && c.ready != nil {
		c.publishing.Store(true)
		close(c.ready)
	}
}

// dialAddr turns a bound address into one to dial: a wildcard host becomes
// loopback.
func dialAddr(bound string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Port is the TCP port the camera listens on.
func (c *Camera) Port() int {
	_, p, _ := net.SplitHostPort(c.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// freeUDPPair finds two free consecutive loopback UDP ports, the first
// even, as RTP and RTCP want them. Another process may take them before
// the server binds them; on a test machine's loopback that is rare, and
// Start then fails with the listen error.
func freeUDPPair() (int, error) {
	for range 50 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("synthcam: udp: %w", err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port &^ 1
		a.Close()
		rtp, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		rtcp, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+1))
		rtp.Close()
		if err != nil {
			continue
		}
		rtcp.Close()
		return p, nil
	}
	return 0, errors.New("synthcam: no free pair of UDP ports on 127.0.0.1")
}
