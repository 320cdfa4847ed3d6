package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/viant/mly/shared/client"
	"github.com/viant/mly/shared/common"
)

// prediction is string_lookups_int_model's output, as mly's client decodes a row of "data".
type prediction struct {
	Expand int64 `json:"expand"`
}

// sliHash is the dictHash mly's own server serves for string_lookups_int_model.
const sliHash = 2258113197202221534

// expand is what mly's own server answers for (sa, sl) (shared/reference/mly-http.md).
var expand = map[[2]string]int64{
	{"a", "a"}: 25, {"b", "c"}: 12, {"zz", "a"}: 10, {"yy", "a"}: 10, {"c", "qq"}: 6,
	{"b", "b"}: 16, {"q", "w"}: 4, {"a", "c"}: 15,
}

const sliConfig = `Endpoint:
  Port: 0
  Host: 127.0.0.1
Models:
  - ID: sli
    URL: %s/string_lookups_int_model
    DataStore: sli
Datastores:
  - ID: sli
    Cache:
      SizeMb: 16
    TimeToLiveMs: 600000
`

// mlyClient runs mly's Go client against one server and checks what each call did there.
type mlyClient struct {
	t      *testing.T
	srv    *server
	cli    *client.Service
	before stats
}

// single evaluates one row; wantStatus is "ok" (the server answered) or "cached" (the
// client's local cache answered and no request reached the server).
func (c *mlyClient) single(sa, sl, wantKey, wantStatus string) {
	c.t.Helper()
	msg := c.cli.NewMessage()
	msg.SetBatchSize(0) // a pooled message keeps its batch size (mly client bug)
	msg.StringKey("sa", sa)
	msg.StringKey("sl", sl)
	if key := msg.CacheKey(); key != wantKey {
		c.t.Fatalf("(%s, %s): the client keyed it %q, want %q", sa, sl, key, wantKey)
	}
	out := new(prediction)
	resp := &client.Response{Data: out}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.cli.Run(ctx, msg, resp); err != nil {
		c.t.Fatalf("(%s, %s): %v", sa, sl, err)
	}
	if resp.Status != wantStatus {
		c.t.Fatalf("(%s, %s): status %q (error %q), want %q", sa, sl, resp.Status, resp.Error, wantStatus)
	}
	if want := expand[[2]string{sa, sl}]; out.Expand != want {
		c.t.Fatalf("(%s, %s): expand %d, want %d", sa, sl, out.Expand, want)
	}
	if wantStatus == common.StatusOK && resp.DictHash != sliHash {
		c.t.Fatalf("(%s, %s): dictHash %d, want %d", sa, sl, resp.DictHash, sliHash)
	}
	c.served(fmt.Sprintf("(%s, %s)", sa, sl), wantStatus, 1)
}

// batch evaluates rows in one Run; sent is how many of them the server should see.
func (c *mlyClient) batch(rows [][2]string, wantStatus string, sent int) {
	c.t.Helper()
	msg := c.cli.NewMessage()
	msg.SetBatchSize(len(rows))
	sa, sl := make([]string, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		sa[i], sl[i] = r[0], r[1]
	}
	msg.StringsKey("sa", sa)
	msg.StringsKey("sl", sl)
	var out []*prediction
	resp := &client.Response{Data: &out}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.cli.Run(ctx, msg, resp); err != nil {
		c.t.Fatalf("batch %v: %v", rows, err)
	}
	if resp.Status != wantStatus {
		c.t.Fatalf("batch %v: status %q (error %q), want %q", rows, resp.Status, resp.Error, wantStatus)
	}
	if len(out) != len(rows) {
		c.t.Fatalf("batch %v: %d answers", rows, len(out))
	}
	for i, r := range rows {
		if out[i] == nil || out[i].Expand != expand[r] {
			c.t.Fatalf("batch %v: row %d answered %+v, want expand %d", rows, i, out[i], expand[r])
		}
	}
	c.served(fmt.Sprintf("batch %v", rows), wantStatus, sent)
}

// served checks what the server saw since the last check: one request of `rows` rows when
// the status is "ok", nothing when it is "cached".
func (c *mlyClient) served(what, status string, rows int) {
	c.t.Helper()
	now := c.srv.stats(c.t, "sli")
	requests := now.Runtime.Server.Requests - c.before.Runtime.Server.Requests
	seen := now.Runtime.Model.Rows - c.before.Runtime.Model.Rows
	c.before = now
	if status == common.StatusCached {
		if requests != 0 || seen != 0 {
			c.t.Fatalf("%s was answered from the client's cache, but the server saw %d requests of %d rows", what, requests, seen)
		}
		return
	}
	if requests != 1 || seen != int64(rows) {
		c.t.Fatalf("%s: the server saw %d requests of %d rows, want 1 of %d", what, requests, seen, rows)
	}
}

// TestMlyGoClient runs viant/mly's own Go client (v1.0.1) against our server: it discovers
// the model's config and dictionary, evaluates single rows and batches over h2c (prior
// knowledge: the client has no other way), keys out-of-vocabulary values as [UNK] from our
// dictionary, and answers repeats from its local cache, which the server never sees.
func TestMlyGoClient(t *testing.T) {
	models := modelsDir(t)
	srv := startServer(t, fmt.Sprintf(sliConfig, models))

	cli, err := client.New("sli", []*client.Host{client.NewHost(srv.host, srv.port)}, client.WithHashValidation(true))
	if err != nil {
		t.Fatalf("mly client: %v", err)
	}
	defer cli.Close()

	// Discovery: /meta/config gave the datastore (a local cache), the inputs and the keys.
	remote := cli.Config.Datastore
	if remote == nil || remote.ID != "sli" || remote.Cache == nil || remote.Cache.SizeMb != 16 {
		t.Fatalf("config: %+v", remote)
	}
	var inputs []string
	for _, f := range remote.Inputs {
		inputs = append(inputs, f.Name+":"+f.DataType)
	}
	if strings.Join(inputs, ",") != "sa:string,sl:string" || strings.Join(remote.KeyFields, ",") != "sa,sl" ||
		len(remote.Outputs) != 1 || remote.Outputs[0].Name != "expand" {
		t.Fatalf("config: inputs %v, keys %v, outputs %+v", inputs, remote.KeyFields, remote.Outputs)
	}

	c := &mlyClient{t: t, srv: srv, cli: cli, before: srv.stats(t, "sli")}
	// Single rows; an out-of-vocabulary value is keyed [UNK] (the dictionary was discovered).
	c.single("a", "a", "a/a", common.StatusOK)
	c.single("a", "a", "a/a", common.StatusCached)
	c.single("zz", "a", "[UNK]/a", common.StatusOK)
	c.single("yy", "a", "[UNK]/a", common.StatusCached) // another OOV spelling, same key
	// A batch of new rows: one request of all of them.
	c.batch([][2]string{{"b", "c"}, {"c", "qq"}, {"q", "w"}}, common.StatusOK, 3)
	// A partial hit: only the miss is sent. The hits come last: a cached row before a missed
	// one makes mly's client store the rows under the wrong keys (its bug, not ours).
	c.batch([][2]string{{"b", "b"}, {"b", "c"}, {"a", "a"}}, common.StatusOK, 1)
	// Every row cached, OOV ones included: no request at all.
	c.batch([][2]string{{"q", "w"}, {"b", "b"}, {"zz", "a"}, {"yy", "a"}, {"c", "qq"}}, common.StatusCached, 0)
	// A single row after batches (SetBatchSize(0) on the pooled message).
	c.single("a", "c", "a/c", common.StatusOK)

	// The client's cache keys (sent as cache_key) agree with the keys our server computes.
	if n := c.before.Runtime.Server.CacheKeyDisagreements; n != 0 {
		t.Fatalf("%d of the client's cache keys differ from the server's", n)
	}
	t.Logf("server: %s", c.before)
}
