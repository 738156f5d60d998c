package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkHubFanout publishes 50 KB frames to n subscribers that each take
// every frame they can; ns/frame/sub is the cost a viewer adds per frame.
func BenchmarkHubFanout(b *testing.B) {
	jpeg := make([]byte, 50<<10)
	jpeg[0], jpeg[1], jpeg[len(jpeg)-2], jpeg[len(jpeg)-1] = 0xFF, 0xD8, 0xFF, 0xD9
	for _, subs := range []int{1, 10, 50, 200} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			h := NewHub()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var received sync.Map
			for i := range subs {
				wg.Go(func() {
					var seq, n uint64
					for {
						f, err := h.Next(ctx, seq)
						if err != nil {
							received.Store(i, n)
							return
						}
						seq = f.Seq
						f.Release()
						n++
					}
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.Publish(jpeg, time.Now())
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(subs), "ns/frame/sub")
		})
	}
}
