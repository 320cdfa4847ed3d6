package main

import "time"

// threadSampler records the process's peak number of OS threads (the kernel's count: Go's
// threads, CPython's and TensorFlow's together) by reading /proc/self/status while it runs.
// Go's runtime keeps no such high-water mark, and the kernel keeps none per process.
type threadSampler struct {
	stop chan struct{}
	peak chan int
}

func sampleThreads(every time.Duration) *threadSampler {
	s := &threadSampler{stop: make(chan struct{}), peak: make(chan int, 1)}
	go func() {
		peak := 0
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if n, err := threadCount(); err == nil && n > peak {
				peak = n
			}
			select {
			case <-s.stop:
				s.peak <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak it saw (0 if /proc could not be read).
func (s *threadSampler) Stop() int {
	close(s.stop)
	return <-s.peak
}

func threadCount() (int, error) {
	return fromStatus(parseThreads)
}
