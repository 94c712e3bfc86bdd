package api

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/store"
)

// oneNode is a Store serving one node (other methods are not called).
type oneNode struct {
	Store
	n store.Node
}

func (o oneNode) Node(context.Context, string) (store.Node, error) { return o.n, nil }

// BenchmarkAuthNodeGet is GET /v1/nodes/{uuid} through the whole app with
// each strategy: the API's own cost per request, without a database.
func BenchmarkAuthNodeGet(b *testing.B) {
	owner := staticOwner
	n := store.Node{UUID: "9f7ef9f4-7a46-40bc-9037-000000000042", Driver: fake.TypeName, Owner: &owner,
		Interfaces: store.Interfaces{Power: "fake", Management: "fake", Deploy: "fake", Boot: "fake", Network: "noop"}}
	path := filepath.Join(b.TempDir(), "htpasswd")
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.DefaultCost)
	if err := os.WriteFile(path, []byte("admin:"+string(h)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	basic, err := auth.NewBasic(auth.BasicConfig{UserFile: path})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		authn  Authenticator
		header [2]string
	}{
		{"noauth", nil, [2]string{}},
		{"http_basic", basic, [2]string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:pw"))}},
		{"keystone-system-reader", staticPersonas(), [2]string{"X-Auth-Token", "system-reader"}},
		{"keystone-owner-reader", staticPersonas(), [2]string{"X-Auth-Token", "owner-reader"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := &Server{Store: oneNode{n: n}, Auth: tc.authn}
			h := srv.App().Handler()
			var ctx fasthttp.RequestCtx
			run := func() {
				ctx.Request.Reset()
				ctx.Response.Reset()
				ctx.Request.SetRequestURI("/v1/nodes/" + n.UUID)
				ctx.Request.Header.SetMethod("GET")
				ctx.Request.Header.SetHost("127.0.0.1:6385")
				ctx.Request.Header.Set(hdrVersion, "latest")
				if tc.header[0] != "" {
					ctx.Request.Header.Set(tc.header[0], tc.header[1])
				}
				h(&ctx)
			}
			run()
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
		})
	}
}
