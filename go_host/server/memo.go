package server

import (
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// The memo: a per-process cache of exact requests' answers, in Go, in front of the runtime.
//
// The prediction cache is the runtime's (bridge.cache, keys by mly's rules, shared by every
// host and every instance); it stays the source of truth. Yet reaching it from HTTP costs a
// Batcher hand-off, a cgo crossing and the GIL for each request, a cache hit included. The
// memo answers a request that it has answered before without any of that: its key is the
// request's exact bytes (a POST/PUT body, or '?' and a GET query), its value the encoded "data"
// of the answer and the dictionary hash. No key rule is re-implemented here: a body that
// differs by one byte (even equivalent JSON) is simply a miss, and the runtime answers it.
//
// Only models with a datastore are memoised (the runtime answers their repeats from its cache
// anyway; a model without one is evaluated every time), only answers that succeeded, and a
// request with a cache_key only when the runtime found every key given to be its own (it
// answers how many differ): a request whose keys differ reaches the runtime every time, which
// counts each disagreement. Consistency rules:
//   - an entry lives at most the datastore's shortest TimeToLiveMs (memoTtlMs, from the
//     runtime) after it was stored;
//   - a hot reload drops every entry of every model: the runtime bumps its models version
//     (metacall.ModelsVersion, one atomic load of a counter in libmetacall.so, no call, no GIL)
//     after it swaps a version in, and an answer is stored under the version read before the
//     runtime call that produced it, so an answer of the old version is never kept past it;
//   - bounded in entries and bytes per model (16,384 and 4 MiB: a few MiB of the process's
//     hundreds), least recently used first out; an answer over 64 KiB is not kept.
//
// Sixteen shards, each a map and an LRU list (container/list) under its own mutex: a hit is a
// map lookup and a move to the front. Written here rather than taken from a module because it
// is small and the standard library has every piece; the rules above are the server's own.

const (
	memoShards = 16
	// Bounds of one model's memo (the bytes count keys, answers and memoOverhead each).
	defaultMemoEntries = 16 << 10
	defaultMemoBytes   = 4 << 20
	// memoOverhead is what an entry costs beyond its key and answer: the map slot, the list
	// element and the entry itself (an estimate).
	memoOverhead = 160
)

// memoLimits bound one model's memo.
type memoLimits struct {
	entries int // at most this many entries
	bytes   int // at most this many bytes (keys + answers + memoOverhead each)
}

var defaultMemoLimits = memoLimits{entries: defaultMemoEntries, bytes: defaultMemoBytes}

// memo is one model's memo.
type memo struct {
	ttl      int64 // nanoseconds an entry lives
	maxEntry int   // the largest entry stored (bytes): a huge batch must not flush the rest
	now      func() int64
	seed     maphash.Seed
	seen     atomic.Uint64 // the models version the shards were last emptied for
	shards   [memoShards]memoShard

	hits, misses, stores, evictions, expired, invalidations atomic.Uint64
}

type memoShard struct {
	mu         sync.Mutex
	version    uint64 // the models version of every entry held
	items      map[string]*list.Element
	order      list.List // of *memoEntry; front: most recently used
	bytes      int
	maxEntries int
	maxBytes   int
	_          [64]byte // shards on their own cache lines
}

type memoEntry struct {
	key      string
	data     []byte // never written after it is stored: readers use it without the lock
	dictHash int64
	expires  int64
	size     int
}

var memoEpoch = time.Now()

// memoTime is t in the memo's clock: nanoseconds since memoEpoch, on the monotonic clock.
func memoTime(t time.Time) int64 { return int64(t.Sub(memoEpoch)) }

func monotonic() int64 { return memoTime(time.Now()) }

// newMemo is an empty memo whose entries live ttl, holding answers from models version
// `version` on (the runtime's version now).
func newMemo(ttl time.Duration, limits memoLimits, version uint64) *memo {
	m := &memo{ttl: int64(ttl), now: monotonic, seed: maphash.MakeSeed()}
	m.seen.Store(version)
	perEntries := max(1, limits.entries/memoShards)
	perBytes := max(1, limits.bytes/memoShards)
	m.maxEntry = min(64<<10, perBytes/4)
	for i := range m.shards {
		sh := &m.shards[i]
		sh.items = make(map[string]*list.Element)
		sh.version = version
		sh.maxEntries, sh.maxBytes = perEntries, perBytes
	}
	return m
}

func (m *memo) shard(key []byte) *memoShard {
	return &m.shards[maphash.Bytes(m.seed, key)%memoShards]
}

// sync empties every shard once the runtime's models version has moved past what the memo
// holds (a model was reloaded); one caller per version does it.
func (m *memo) sync(version uint64) {
	seen := m.seen.Load()
	if version <= seen || !m.seen.CompareAndSwap(seen, version) {
		return
	}
	m.invalidations.Add(1)
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		sh.advance(version)
		sh.mu.Unlock()
	}
}

// advance drops the shard's entries when version is newer than theirs (under mu).
func (sh *memoShard) advance(version uint64) {
	if version <= sh.version {
		return
	}
	sh.version = version
	if len(sh.items) > 0 {
		clear(sh.items)
		sh.order.Init()
		sh.bytes = 0
	}
}

// get returns the answer stored for key, if it is from models version `version` (read by the
// caller before the lookup) and not expired at `at` (memoTime). data must not be modified.
func (m *memo) get(key []byte, version uint64, at int64) (data []byte, dictHash int64, ok bool) {
	m.sync(version)
	sh := m.shard(key)
	sh.mu.Lock()
	if version != sh.version { // a reload is being applied, or the caller read an old version
		sh.mu.Unlock()
		m.misses.Add(1)
		return nil, 0, false
	}
	el := sh.items[string(key)]
	if el == nil {
		sh.mu.Unlock()
		m.misses.Add(1)
		return nil, 0, false
	}
	e := el.Value.(*memoEntry)
	if at >= e.expires {
		sh.remove(el)
		sh.mu.Unlock()
		m.expired.Add(1)
		m.misses.Add(1)
		return nil, 0, false
	}
	sh.order.MoveToFront(el)
	sh.mu.Unlock()
	m.hits.Add(1)
	return e.data, e.dictHash, true
}

// put stores a copy of data (and the dictionary hash) as the answer to key, produced by a
// runtime call made after the caller read models version `version`. An answer from before a
// reload the memo already knows of is not stored.
func (m *memo) put(key []byte, version uint64, data []byte, dictHash int64) {
	size := len(key) + len(data) + memoOverhead
	if size > m.maxEntry {
		return
	}
	m.sync(version)
	sh := m.shard(key)
	e := &memoEntry{data: append([]byte(nil), data...), dictHash: dictHash, size: size}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.advance(version)
	if version != sh.version {
		return
	}
	e.expires = m.now() + m.ttl
	if el := sh.items[string(key)]; el != nil { // two requests missed at once: keep the later
		old := el.Value.(*memoEntry)
		e.key = old.key
		sh.bytes += size - old.size
		el.Value = e
		sh.order.MoveToFront(el)
	} else {
		e.key = string(key)
		sh.items[e.key] = sh.order.PushFront(e)
		sh.bytes += size
	}
	m.stores.Add(1)
	for len(sh.items) > sh.maxEntries || sh.bytes > sh.maxBytes {
		sh.remove(sh.order.Back())
		m.evictions.Add(1)
	}
}

func (sh *memoShard) remove(el *list.Element) {
	e := sh.order.Remove(el).(*memoEntry)
	delete(sh.items, e.key)
	sh.bytes -= e.size
}

// memoStats is what /meta/stats and /metrics say of a model's memo.
type memoStats struct {
	Hits          uint64 `json:"hits"`
	Misses        uint64 `json:"misses"`
	Stores        uint64 `json:"stores"`
	Evictions     uint64 `json:"evictions"`
	Expired       uint64 `json:"expired"`
	Invalidations uint64 `json:"invalidations"`
	Entries       int    `json:"entries"`
	Bytes         int    `json:"bytes"`
	TTLMs         int64  `json:"ttlMs"`
}

func (m *memo) stats() memoStats {
	st := memoStats{
		Hits: m.hits.Load(), Misses: m.misses.Load(), Stores: m.stores.Load(),
		Evictions: m.evictions.Load(), Expired: m.expired.Load(),
		Invalidations: m.invalidations.Load(), TTLMs: m.ttl / int64(time.Millisecond),
	}
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		st.Entries += len(sh.items)
		st.Bytes += sh.bytes
		sh.mu.Unlock()
	}
	return st
}
