package api

import (
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
)

// listen serves e's app on a loopback socket: the limits are enforced by
// fasthttp while it reads, which app.Test does not show.
func listen(t *testing.T, e *testEnv) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.Shutdown(); <-done })
	return "http://" + ln.Addr().String()
}

// TestOversizedRequestsGetAStatus: a body beyond Ironic's limit (oslo's
// max_request_body_size, 112 KiB; config drives excepted) or a header beyond
// the read buffer is answered with a status in Ironic's shape, never a reset
// connection, whether the client sends a Content-Length or chunks.
func TestOversizedRequestsGetAStatus(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, func(n *store.Node) { n.ProvisionState = node.Available })
	base := listen(t, e)
	body := func(n int) string { return `{"driver":"fake-hardware","extra":{"x":"` + strings.Repeat("a", n) + `"}}` }
	configDrive := func(n int) string { return `{"target":"active","configdrive":"` + strings.Repeat("QUFB", n/4) + `"}` }
	const tooLarge = "Request is too large. Larger than max_request_body_size (114688)."
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		chunked bool
		header  int // bytes of an extra header
		want    int
		wantIn  string
	}{
		{name: "100 KiB create", method: "POST", path: "/v1/nodes", body: body(100 << 10), want: 201},
		{name: "200 KiB create", method: "POST", path: "/v1/nodes", body: body(200 << 10), want: 413, wantIn: tooLarge},
		{name: "200 KiB create, chunked", method: "POST", path: "/v1/nodes", body: body(200 << 10), chunked: true, want: 413, wantIn: tooLarge},
		{name: "20 MiB create", method: "POST", path: "/v1/nodes", body: body(20 << 20), want: 413, wantIn: tooLarge},
		{name: "20 MiB create, chunked", method: "POST", path: "/v1/nodes", body: body(20 << 20), chunked: true, want: 413, wantIn: tooLarge},
		{name: "200 KiB patch", method: "PATCH", path: "/v1/nodes/" + sampleUUID,
			body: `[{"op":"add","path":"/extra/x","value":"` + strings.Repeat("a", 200<<10) + `"}]`, want: 413, wantIn: tooLarge},
		{name: "1 MiB config drive", method: "PUT", path: "/v1/nodes/" + sampleUUID + "/states/provision", body: configDrive(1 << 20), want: 202},
		{name: "20 MiB config drive", method: "PUT", path: "/v1/nodes/" + sampleUUID + "/states/provision", body: configDrive(20 << 20),
			want: 413, wantIn: "Larger than max_request_body_size (16777216)."},
		{name: "64 KiB header", method: "GET", path: "/v1/nodes", header: 64 << 10, want: 431},
		{name: "8 MiB header", method: "GET", path: "/v1/nodes", header: 8 << 20, want: 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rd io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				rd = io.MultiReader(rd) // hides the length: Transfer-Encoding: chunked
			}
			if tt.body == "" {
				rd = nil
			}
			req, _ := http.NewRequest(tt.method, base+tt.path, rd)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(hdrVersion, "latest")
			if tt.header > 0 {
				req.Header.Set("X-Auth-Token", strings.Repeat("t", tt.header))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.want, got)
			}
			if tt.want >= 400 {
				if msg := faultString(t, string(got)); !strings.Contains(msg, tt.wantIn) {
					t.Errorf("message %q lacks %q", msg, tt.wantIn)
				}
			}
		})
	}
	// Only the 100 KiB create was stored; the node's extra is untouched.
	if n := e.nodeCount(); n != 2 {
		t.Errorf("%d nodes stored, want 2", n)
	}
	if got := e.node(sampleUUID).Extra; !jsonEqual(t, got, string(sampleNode().Extra)) {
		t.Errorf("extra = %s", got)
	}
}

// TestUnknownMethods: a method no route serves — one Fiber does not even know
// (FOO, PROPFIND) included — on a known path is Ironic's 405 in webob's
// shape, with an Allow header and no microversion headers; on an unknown
// path it is the router's 404.
func TestUnknownMethods(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t, nil)
	n := "/v1/nodes/" + sampleUUID
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{"FOO", "/v1/nodes", 405, "DELETE, GET, HEAD, PATCH, POST"},
		{"PROPFIND", n, 405, "DELETE, GET, HEAD, PATCH"},
		{"PUT", "/v1/nodes", 405, "DELETE, GET, HEAD, PATCH, POST"},
		{"POST", n + "/states", 405, "GET, HEAD"},
		{"delete", n + "/states/provision/", 405, "PUT"},
		{"FOO", "/v1/nosuch", 404, ""},
		{"FOO", "/", 405, "GET, HEAD"},
	}
	base := listen(t, e)
	for _, tt := range tests {
		for _, viaSocket := range []bool{false, true} {
			var resp *http.Response
			var body string
			if viaSocket {
				req, _ := http.NewRequest(tt.method, base+tt.path, nil)
				req.Header.Set(hdrVersion, "latest")
				r, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", tt.method, tt.path, err)
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				resp, body = r, string(b)
			} else {
				resp, body = e.do(t, tt.method, tt.path, "", latest)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s (socket %v) = %d, want %d: %s", tt.method, tt.path, viaSocket, resp.StatusCode, tt.want, body)
				continue
			}
			msg := faultString(t, body) // webob's shape: the description
			if tt.want == 405 && msg != "The method "+tt.method+" is not allowed for this resource." {
				t.Errorf("%s %s: description %q", tt.method, tt.path, msg)
			}
			allow := strings.Split(resp.Header.Get("Allow"), ", ")
			slices.Sort(allow)
			if got := strings.Join(allow, ", "); got != tt.allow {
				t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
			}
			if resp.Header.Get(hdrVersion) != "" || resp.Header.Get(hdrMaxVersion) != "" {
				t.Errorf("%s %s: microversion headers on a routing error", tt.method, tt.path)
			}
		}
	}
}
