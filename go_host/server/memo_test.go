package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"mlbridge/go_host/metacall"
)

// The memo's rules on the type itself (a fake clock, small bounds), then through the server:
// real HTTP over loopback, the real runtime, and the runtime's own call counters as witness.

func testMemo(ttl time.Duration, limits memoLimits) (*memo, *int64) {
	return testMemoAt(ttl, limits, 0)
}

func testMemoAt(ttl time.Duration, limits memoLimits, version uint64) (*memo, *int64) {
	m := newMemo(ttl, limits, version)
	clock := new(int64)
	m.now = func() int64 { return *clock }
	return m, clock
}

func mustHit(t *testing.T, m *memo, key string, version uint64, want string) {
	t.Helper()
	data, hash, ok := m.get([]byte(key), version, m.now())
	if !ok || string(data) != want || hash != 7 {
		t.Fatalf("get %q: %q %d %v, want %q 7 true", key, data, hash, ok, want)
	}
}

func mustMiss(t *testing.T, m *memo, key string, version uint64) {
	t.Helper()
	if data, _, ok := m.get([]byte(key), version, m.now()); ok {
		t.Fatalf("get %q: hit %q, want a miss", key, data)
	}
}

func TestMemoEntriesExpireAfterTheTTL(t *testing.T) {
	m, clock := testMemo(time.Second, defaultMemoLimits)
	m.put([]byte(`{"a":1}`), 0, []byte(`{"y":1}`), 7)
	*clock = int64(999 * time.Millisecond)
	mustHit(t, m, `{"a":1}`, 0, `{"y":1}`)
	*clock = int64(time.Second) // a hit does not extend the life of an entry
	mustMiss(t, m, `{"a":1}`, 0)
	if st := m.stats(); st.Expired != 1 || st.Entries != 0 || st.Bytes != 0 || st.Hits != 1 || st.Misses != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMemoKeepsItsBoundsLeastRecentlyUsedFirstOut(t *testing.T) {
	// One entry per shard: storing a second key in a shard evicts the first.
	m, _ := testMemo(time.Hour, memoLimits{entries: memoShards, bytes: 1 << 20})
	var keys []string
	for i := 0; len(keys) < 3*memoShards; i++ {
		keys = append(keys, fmt.Sprintf(`{"row":%d}`, i))
	}
	for _, k := range keys {
		m.put([]byte(k), 0, []byte(`"`+k+`"`), 7)
	}
	st := m.stats()
	if st.Entries > memoShards || st.Evictions != uint64(len(keys)-st.Entries) || st.Stores != uint64(len(keys)) {
		t.Fatalf("stats %+v after %d stores, bound %d entries", st, len(keys), memoShards)
	}
	mustHit(t, m, keys[len(keys)-1], 0, `"`+keys[len(keys)-1]+`"`) // the newest is kept

	// Bytes: four entries fit a shard; using the oldest makes the second the one to go.
	size := len(`{"r":0000}`) + 100 + memoOverhead
	m, _ = testMemo(time.Hour, memoLimits{entries: 1 << 20, bytes: memoShards * (4*size + size/2)})
	data := bytes.Repeat([]byte("x"), 100)
	keys5 := sameShard(m, 5)
	for _, k := range keys5[:4] {
		m.put(k, 0, data, 7)
	}
	if _, _, ok := m.get(keys5[0], 0, m.now()); !ok {
		t.Fatal("the first entry was not kept")
	}
	m.put(keys5[4], 0, data, 7)
	if _, _, ok := m.get(keys5[1], 0, m.now()); ok {
		t.Fatal("the least recently used entry was kept past the byte bound")
	}
	for _, k := range append([][]byte{keys5[0]}, keys5[2:]...) {
		if _, _, ok := m.get(k, 0, m.now()); !ok {
			t.Fatalf("%s was evicted", k)
		}
	}
	if st := m.stats(); st.Bytes != 4*size || st.Entries != 4 {
		t.Fatalf("stats %+v, want 4 entries of %d bytes", st, size)
	}
	// An answer larger than a quarter of a shard's bytes is not kept at all.
	m.put([]byte("big"), 0, bytes.Repeat([]byte("x"), size), 7)
	mustMiss(t, m, "big", 0)
}

// sameShard returns n keys of one shard of m, each 10 bytes long.
func sameShard(m *memo, n int) [][]byte {
	var found [][]byte
	want := m.shard([]byte(`{"r":000000}`))
	for i := 0; len(found) < n; i++ {
		k := []byte(fmt.Sprintf(`{"r":%04d}`, i))
		if m.shard(k) == want {
			found = append(found, k)
		}
	}
	return found
}

func TestMemoANewModelsVersionDropsEveryEntry(t *testing.T) {
	m, _ := testMemoAt(time.Hour, defaultMemoLimits, 3)
	for i := range 50 {
		m.put([]byte(fmt.Sprint(i)), 3, []byte("1"), 7)
	}
	if st := m.stats(); st.Entries != 50 {
		t.Fatalf("stats %+v", st)
	}
	mustMiss(t, m, "1", 4)
	if st := m.stats(); st.Entries != 0 || st.Invalidations != 1 {
		t.Fatalf("after a reload: stats %+v, want no entries and one invalidation", st)
	}
	// An answer computed before the reload (its caller read version 3) is not kept, and a
	// caller still holding version 3 gets nothing.
	m.put([]byte("old"), 3, []byte("1"), 7)
	mustMiss(t, m, "old", 4)
	m.put([]byte("new"), 4, []byte("1"), 7)
	mustMiss(t, m, "new", 3)
	mustHit(t, m, "new", 4, "1")
}

func TestMemoUnderConcurrentUse(t *testing.T) {
	m, _ := testMemo(time.Hour, memoLimits{entries: 64, bytes: 1 << 20})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := []byte(fmt.Sprint(i % 100))
				version := uint64(i / 500)
				if data, _, ok := m.get(k, version, m.now()); ok && string(data) != string(k) {
					t.Errorf("goroutine %d: %s answered %s", g, k, data)
					return
				}
				m.put(k, version, k, 7)
			}
		}()
	}
	wg.Wait()
	if st := m.stats(); st.Entries > 64 || st.Invalidations != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// --- through the server -----------------------------------------------------------------

// serveCalls is how many times the runtime's <model>.serve was called (from any host).
func serveCalls(t *testing.T, model string) float64 {
	t.Helper()
	return functionCalls(t)[model+serveSuffix]
}

func memoStatsOf(t *testing.T, s *Server, model string) memoStats {
	t.Helper()
	m := s.models[model].memo
	if m == nil {
		t.Fatalf("model %s has no memo", model)
	}
	return m.stats()
}

// same reports whether two answers are the same but for serviceTimeMcs.
func sameAnswer(t *testing.T, a, b reply) {
	t.Helper()
	for _, field := range []string{"status", "dictHash", "data"} {
		if string(a.envelope[field]) != string(b.envelope[field]) {
			t.Fatalf("%s differs: %s and %s", field, a.body, b.body)
		}
	}
	if len(a.envelope) != len(b.envelope) {
		t.Fatalf("answers %s and %s", a.body, b.body)
	}
}

func TestMemoARepeatIsAnsweredWithoutTheRuntime(t *testing.T) {
	needServer(t)
	run := time.Now().UnixNano()
	for name, client := range clients() {
		t.Run(name, func(t *testing.T) {
			tv := fmt.Sprintf("memo repeat %d %s", run, name)
			body := `{"tv":"` + tv + `","sl":"a"}`
			query := "/v1/api/model/vec/eval?tv=" + strings.ReplaceAll(tv, " ", "+") + "&sl=a"
			calls, st, evaluated := serveCalls(t, "vec"), memoStatsOf(t, testServer, "vec"), stats(t, "vec")
			first := post(t, client, "vec", body)
			data(t, first)
			firstGet := do(t, client, http.MethodGet, query, "")
			if string(firstGet.envelope["data"]) != string(first.envelope["data"]) {
				t.Fatalf("GET %s, POST %s", firstGet.body, first.body)
			}
			if n := serveCalls(t, "vec") - calls; n != 2 {
				t.Fatalf("%v runtime calls for a POST and a GET, want 2", n)
			}
			calls = serveCalls(t, "vec")
			batched := stats(t, "vec").Requests
			for range 3 {
				sameAnswer(t, first, post(t, client, "vec", body))
				sameAnswer(t, firstGet, do(t, client, http.MethodGet, query, ""))
			}
			if n := serveCalls(t, "vec") - calls; n != 0 {
				t.Fatalf("the repeats made %v runtime calls, want 0", n)
			}
			after := stats(t, "vec")
			if after.Requests != batched || after.Runtime.Model.RowsEvaluated-evaluated.Runtime.Model.RowsEvaluated > 1 {
				t.Fatalf("the repeats reached the Batcher (%d → %d requests) or the model", batched, after.Requests)
			}
			now := memoStatsOf(t, testServer, "vec")
			if now.Hits-st.Hits != 6 || now.Stores-st.Stores != 2 {
				t.Fatalf("memo hits %d stores %d, want 6 and 2", now.Hits-st.Hits, now.Stores-st.Stores)
			}
		})
	}
	// /meta/stats says so.
	r := do(t, h1, http.MethodGet, "/v1/api/model/vec/meta/stats", "")
	if !strings.Contains(string(r.body), `"memo":{"hits":`) {
		t.Fatalf("stats without the memo: %s", r.body)
	}
}

func TestMemoADifferentBodyIsAMissWithTheRightAnswer(t *testing.T) {
	needServer(t)
	tv := fmt.Sprintf("memo spelling %d", time.Now().UnixNano())
	first := post(t, h1, "vec", `{"tv":"`+tv+`","sl":"a"}`)
	calls := serveCalls(t, "vec")
	evaluated := stats(t, "vec").Runtime.Model.RowsEvaluated
	for i, body := range []string{
		`{"sl":"a","tv":"` + tv + `"}`,    // another key order
		`{"tv": "` + tv + `", "sl": "a"}`, // spaces
		`{"tv":"` + tv + `","sl":"\u0061"}`,
	} {
		sameAnswer(t, first, post(t, h1, "vec", body))
		if n := serveCalls(t, "vec") - calls; n != float64(i+1) {
			t.Fatalf("%s: %v runtime calls, want %d: an equivalent body is a new request", body, n, i+1)
		}
	}
	// The runtime found them in its cache: its keys, not the bytes, say what a row is.
	if n := stats(t, "vec").Runtime.Model.RowsEvaluated - evaluated; n != 0 {
		t.Fatalf("%d rows evaluated, want 0", n)
	}
	// And a different row is the runtime's to answer.
	data(t, post(t, h1, "vec", `{"tv":"`+tv+` more words","sl":"a"}`))
	if n := serveCalls(t, "vec") - calls; n != 4 {
		t.Fatalf("a new row: %v runtime calls in all, want 4", n)
	}
}

func TestMemoABodyLikeAQueryIsNotAnsweredFromTheQuerysEntry(t *testing.T) {
	needServer(t)
	query := fmt.Sprintf("tv=memo+query+%d&sl=a", time.Now().UnixNano())
	data(t, do(t, h1, http.MethodGet, "/v1/api/model/vec/eval?"+query, ""))
	data(t, do(t, h1, http.MethodGet, "/v1/api/model/vec/eval?"+query, "")) // now in the memo
	for _, method := range []string{http.MethodPost, http.MethodPut} {
		r := do(t, h1, method, "/v1/api/model/vec/eval", "?"+query)
		if r.status != http.StatusBadRequest || string(r.envelope["status"]) != `"error"` {
			t.Fatalf("%s with the body ?%s: %d %s, want a JSON 400", method, query, r.status, r.body)
		}
	}
}

func TestMemoAModelWithoutADatastoreIsEvaluatedEveryTime(t *testing.T) {
	needServer(t)
	if testServer.models["ko"].memo != nil {
		t.Fatal("ko (no datastore) has a memo")
	}
	calls := serveCalls(t, "ko")
	evaluated := stats(t, "ko").Runtime.Model.RowsEvaluated
	for range 3 {
		if got := data(t, post(t, h1, "ko", `{"i":5}`)); got != `{"i0_copy":5,"i1_copy":5}` {
			t.Fatalf("ko answered %s", got)
		}
	}
	if n := serveCalls(t, "ko") - calls; n != 3 {
		t.Fatalf("%v runtime calls, want 3", n)
	}
	if n := stats(t, "ko").Runtime.Model.RowsEvaluated - evaluated; n != 3 {
		t.Fatalf("%d rows evaluated, want 3", n)
	}
	if r := do(t, h1, http.MethodGet, "/v1/api/model/ko/meta/stats", ""); !strings.Contains(string(r.body), `"memo":null`) {
		t.Fatalf("ko's stats: %s", r.body)
	}
}

func TestMemoKeepsNoErrorsNorRequestsWithAnotherCacheKey(t *testing.T) {
	needServer(t)
	calls := serveCalls(t, "sli")
	for range 2 {
		errorText(t, post(t, h1, "sli", `{"sa":"a"}`), http.StatusBadRequest) // refused by the runtime
	}
	if n := serveCalls(t, "sli") - calls; n != 2 {
		t.Fatalf("a refused request reached the runtime %v times in 2, want 2", n)
	}
	// A client's cache_key that is not the runtime's key: every such request reaches the
	// runtime, which counts the disagreement.
	disagreeing := `{"sa":"zz","sl":"b","cache_key":"zz/b"}` // ours is [UNK]/b
	calls = serveCalls(t, "sli")
	before := stats(t, "sli").Runtime.Server.CacheKeyDisagreements
	first := post(t, h1, "sli", disagreeing)
	sameAnswer(t, first, post(t, h1, "sli", disagreeing))
	if n := serveCalls(t, "sli") - calls; n != 2 {
		t.Fatalf("requests with another cache_key reached the runtime %v times in 2, want 2", n)
	}
	if n := stats(t, "sli").Runtime.Server.CacheKeyDisagreements - before; n != 2 {
		t.Fatalf("%d disagreements counted, want 2", n)
	}
	// The runtime's own key (as mly's client and ours send it): kept like any other answer.
	agreeing := `{"sa":"zz","sl":"b","cache_key":"[UNK]/b"}`
	calls = serveCalls(t, "sli")
	sameAnswer(t, first, post(t, h1, "sli", agreeing))
	sameAnswer(t, first, post(t, h1, "sli", agreeing))
	if n := serveCalls(t, "sli") - calls; n != 1 {
		t.Fatalf("requests with the runtime's cache_key reached it %v times in 2, want 1", n)
	}
	if n := stats(t, "sli").Runtime.Server.CacheKeyDisagreements - before; n != 2 {
		t.Fatalf("%d disagreements counted in all, want 2", n)
	}
}

// memoServer serves the test configuration with its own memo settings.
func memoServer(t *testing.T, limits memoLimits, ttlMs int64) *opsServer {
	t.Helper()
	needServer(t)
	d := *testServer.Description()
	d.Models = append([]ModelDescription(nil), d.Models...)
	for i := range d.Models {
		if d.Models[i].MemoTTLMs > 0 && ttlMs > 0 {
			d.Models[i].MemoTTLMs = ttlMs
		}
	}
	return startOpsWith(t, OpsSettings{}, &d, limits)
}

func TestMemoEntriesLiveNoLongerThanTheDatastoresTTL(t *testing.T) {
	const ttl = time.Second
	s := memoServer(t, defaultMemoLimits, ttl.Milliseconds())
	if got := testServer.models["vec"].memo.stats().TTLMs; got != 900000 {
		t.Fatalf("vec's memo TTL %d ms, want the datastore's TimeToLiveMs 900000", got)
	}
	body := fmt.Sprintf(`{"tv":"memo ttl %d","sl":"a"}`, time.Now().UnixNano())
	sent := time.Now()
	data(t, s.send(t, http.MethodPost, "/v1/api/model/vec/eval", body))
	stored := time.Now() // the entry was stored between sent and stored
	calls := serveCalls(t, "vec")
	data(t, s.send(t, http.MethodPost, "/v1/api/model/vec/eval", body))
	if took := time.Since(sent); took >= ttl {
		t.Skipf("the first answer and its repeat took %v, past the %v TTL (a loaded machine)", took, ttl)
	}
	if n := serveCalls(t, "vec") - calls; n != 0 {
		t.Fatalf("a repeat within the TTL: %v runtime calls", n)
	}
	calls = serveCalls(t, "vec")
	time.Sleep(ttl - time.Since(stored) + 10*time.Millisecond)
	data(t, s.send(t, http.MethodPost, "/v1/api/model/vec/eval", body))
	if n := serveCalls(t, "vec") - calls; n != 1 {
		t.Fatalf("a repeat past the TTL: %v runtime calls, want 1", n)
	}
	if st := memoStatsOf(t, s.srv, "vec"); st.Expired != 1 {
		t.Fatalf("memo %+v, want 1 expired", st)
	}
}

func TestMemoIsBoundedAndEvictsWithRightAnswers(t *testing.T) {
	s := memoServer(t, memoLimits{entries: memoShards, bytes: 1 << 20}, 0)
	run := time.Now().UnixNano()
	body := func(i int) string { return fmt.Sprintf(`{"tv":"memo bound %d %d","sl":"a"}`, run, i) }
	answers := map[int]string{}
	for i := range 4 * memoShards {
		answers[i] = data(t, s.send(t, http.MethodPost, "/v1/api/model/vec/eval", body(i)))
	}
	st := memoStatsOf(t, s.srv, "vec")
	if st.Entries > memoShards || st.Evictions < 3*memoShards || st.Stores != 4*memoShards {
		t.Fatalf("memo %+v, bound %d entries", st, memoShards)
	}
	calls := serveCalls(t, "vec")
	for i := range 4 * memoShards { // every answer is still right, from the memo or the runtime
		if got := data(t, s.send(t, http.MethodPost, "/v1/api/model/vec/eval", body(i))); got != answers[i] {
			t.Fatalf("row %d: %s, first %s", i, got, answers[i])
		}
	}
	if n := serveCalls(t, "vec") - calls; n < 3*memoShards-1 {
		t.Fatalf("%v runtime calls for %d repeats of which at most %d were kept", n, 4*memoShards, memoShards)
	}
}

// A hot reload (any model's) drops the memo: the next repeat reaches the runtime.
const memoReloadScript = `
def memotest_reload(model_id):
    from bridge.mly import MLY
    MLY.services[model_id].reload()
    return 1
`

var memoReloadOnce sync.Once

func TestMemoIsDroppedWhenAModelIsReloaded(t *testing.T) {
	needServer(t)
	var err error
	memoReloadOnce.Do(func() { err = metacall.LoadFromMemory("py", memoReloadScript) })
	if err != nil {
		t.Fatal(err)
	}
	body := `{"sa":"c", "sl":"c"}`
	first := post(t, h1, "sli", body)
	data(t, first)
	calls, st := serveCalls(t, "sli"), memoStatsOf(t, testServer, "sli")
	sameAnswer(t, first, post(t, h1, "sli", body))
	if n := serveCalls(t, "sli") - calls; n != 0 {
		t.Fatalf("a repeat before the reload: %v runtime calls", n)
	}
	version := metacall.ModelsVersion()
	if _, err := metacall.Call("memotest_reload", "sli"); err != nil {
		t.Fatal(err)
	}
	if metacall.ModelsVersion() <= version {
		t.Fatalf("models version %d after a reload, was %d", metacall.ModelsVersion(), version)
	}
	calls = serveCalls(t, "sli")
	sameAnswer(t, first, post(t, h1, "sli", body)) // the same model files: the same answer
	if n := serveCalls(t, "sli") - calls; n != 1 {
		t.Fatalf("the first repeat after the reload: %v runtime calls, want 1", n)
	}
	sameAnswer(t, first, post(t, h1, "sli", body))
	if n := serveCalls(t, "sli") - calls; n != 1 {
		t.Fatalf("the second repeat after the reload: %v runtime calls, want 1 (kept again)", n-1)
	}
	if now := memoStatsOf(t, testServer, "sli"); now.Invalidations != st.Invalidations+1 {
		t.Fatalf("memo invalidations %d → %d, want one more", st.Invalidations, now.Invalidations)
	}
}
