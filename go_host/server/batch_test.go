package server

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// vecb batches with a 300 ms window and one evaluator: concurrent requests of distinct rows
// (tv is a wildcard, so every text is its own key) are answered by fewer model calls.
func TestConcurrentRequestsShareModelCalls(t *testing.T) {
	needServer(t)
	const n = 24
	before := stats(t, "vecb")
	run := time.Now().UnixNano()
	var wg sync.WaitGroup
	answers := make([]reply, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client := h1
			if i%2 == 1 {
				client = h2c
			}
			answers[i] = post(t, client, "vecb", fmt.Sprintf(`{"tv":"a b %d %d","sl":"a"}`, run, i))
		}(i)
	}
	wg.Wait()
	for i, r := range answers {
		if r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	after := stats(t, "vecb")
	batches := after.Batches - before.Batches
	evaluations := after.Runtime.Model.Evaluations - before.Runtime.Model.Evaluations
	rows := after.Runtime.Model.RowsEvaluated - before.Runtime.Model.RowsEvaluated
	t.Logf("%d requests: %d runtime calls, %d model evaluations of %d rows", n, batches, evaluations, rows)
	if rows != n {
		t.Fatalf("%d rows evaluated, want %d (all distinct)", rows, n)
	}
	if batches >= n/2 || evaluations >= n/2 {
		t.Fatalf("%d requests took %d runtime calls and %d model evaluations; want fewer than %d", n, batches, evaluations, n/2)
	}
}

// tiny has one evaluator, one request per call and room for one waiting request: while a
// long request runs and another waits, the next one is refused at once with 429.
func TestAFullQueueAnswers429(t *testing.T) {
	needServer(t)
	// 100,000 rows of one key: one evaluation, but a long call (every row is checked and keyed).
	long := fmt.Sprintf(`{"batch_size":%d,"sa":["a"],"sl":["b"]}`, MaxBatchRows)
	waitFor := func(what string, ok func(modelStats) bool) bool {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if ok(stats(t, "tiny")) {
				return true
			}
			time.Sleep(time.Millisecond)
		}
		return false
	}
	for attempt := 1; ; attempt++ {
		var wg sync.WaitGroup
		replies := make([]reply, 2)
		wg.Add(2)
		go func() { defer wg.Done(); replies[0] = post(t, h1, "tiny", long) }()
		running := waitFor("running", func(s modelStats) bool { return s.ActiveEvaluators == 1 })
		// With a cache_key that is not the server's key (a disagreement it counts): the memo
		// keeps no answer to such a request, so each one queues.
		go func() { defer wg.Done(); replies[1] = post(t, h2c, "tiny", `{"sa":"a","sl":"a","cache_key":"-"}`) }()
		queued := running && waitFor("queued", func(s modelStats) bool { return s.BatchQueueLen == 1 })
		var refused reply
		if queued {
			refused = post(t, h2c, "tiny", `{"sa":"b","sl":"b","cache_key":"-"}`)
		}
		wg.Wait()
		for i, r := range replies {
			if r.status != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, r.status, r.body)
			}
		}
		if queued && refused.status == http.StatusTooManyRequests {
			errorText(t, refused, http.StatusTooManyRequests)
			break
		}
		// The long call ended before the third request was sent: the machine is slow or busy.
		if attempt == 3 {
			t.Fatalf("no 429 in 3 attempts (running %v, queued %v, third request %d %s)", running, queued, refused.status, refused.body)
		}
	}
	if got := stats(t, "tiny").Overloaded; got < 1 {
		t.Fatalf("overloaded counter %d", got)
	}
	// The queue drains and the model serves again.
	if got := data(t, post(t, h1, "tiny", `{"sa":"b","sl":"b"}`)); got == "" {
		t.Fatal("no answer after the 429")
	}
}
