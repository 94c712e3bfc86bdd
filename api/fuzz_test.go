package api

// Fuzz targets for the PATCH applier and the collection query parsers,
// through the Fiber application. The property: whatever the request, the
// answer is never a 5xx (a panic becomes one), an error is a 4xx with an
// Ironic-shaped body, a success is JSON, and a refused PATCH writes nothing.
//
// Both run over PostgreSQL (FERRIC_TEST_DATABASE_URL; see storetest).
// `go test` (and make test) runs the seed corpora in testdata/fuzz; to
// search for longer:
//
//	go test -run '^$' -fuzz '^FuzzPatch$' -fuzztime 60s ./api/
//	go test -run '^$' -fuzz '^FuzzListQuery$' -fuzztime 60s ./api/
//
// make fuzz runs every fuzz target under api/ (FUZZTIME=60s each).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ferric-project/ferric/store"
)

// serve runs one request through h.
func serve(h fasthttp.RequestHandler, method, uri string, body []byte, version string) (int, []byte, string) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.SetHost("127.0.0.1:6385")
	if version != "" {
		ctx.Request.Header.Set(hdrVersion, version)
	}
	if body != nil {
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBody(body)
	}
	h(&ctx)
	return ctx.Response.StatusCode(), append([]byte(nil), ctx.Response.Body()...),
		string(ctx.Response.Header.ContentType())
}

// checkAnswer fails t unless the answer is one Ironic's clients can read:
// no 5xx; an error is a JSON object whose only member error_message is a
// JSON document in one of Ironic's two shapes; a 200 or 201 is JSON.
func checkAnswer(t *testing.T, what string, status int, body []byte, contentType string) {
	t.Helper()
	switch {
	case status >= 500:
		t.Fatalf("%s: %d %s", what, status, body)
	case status >= 400:
		if !strings.HasPrefix(contentType, "application/json") {
			t.Fatalf("%s: error content type %q", what, contentType)
		}
		var outer map[string]json.RawMessage
		if err := json.Unmarshal(body, &outer); err != nil || len(outer) != 1 {
			t.Fatalf("%s: error body %s", what, body)
		}
		var inner string
		if err := json.Unmarshal(outer["error_message"], &inner); err != nil {
			t.Fatalf("%s: error_message is not a string: %s", what, body)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(inner), &doc); err != nil || len(doc) != 3 {
			t.Fatalf("%s: error_message is not a JSON document of three members: %q", what, inner)
		}
		var faultcode, faultstring, title, description string
		var code int
		fault := json.Unmarshal(doc["faultcode"], &faultcode) == nil && faultcode == "Client" &&
			json.Unmarshal(doc["faultstring"], &faultstring) == nil && string(doc["debuginfo"]) == "null"
		webob := json.Unmarshal(doc["code"], &code) == nil && code == status &&
			json.Unmarshal(doc["title"], &title) == nil && json.Unmarshal(doc["description"], &description) == nil
		if !fault && !webob {
			t.Fatalf("%s: error document in neither of Ironic's shapes: %s", what, inner)
		}
	case status == 200 || status == 201:
		if !json.Valid(body) {
			t.Fatalf("%s: %d with a body that is not JSON: %s", what, status, body)
		}
	}
}

// fuzzNode is the node the fuzz targets patch and list: secrets at several
// depths, a chassis, a port.
func fuzzNode() store.Node {
	n := sampleNode()
	n.DriverInfo = json.RawMessage(`{"ipmi_address":"10.0.0.9","ipmi_password":"s3cret","bmcs":[{"password":"p","a":[1,{"b":null}]}]}`)
	n.InstanceInfo = json.RawMessage(`{"image_source":"http://i","configdrive":{"user_data":"x"},"capabilities":{"boot_mode":"uefi"}}`)
	n.Properties = json.RawMessage(`{"cpus":4,"memory_mb":8192,"root_device":{"size":"> 10"}}`)
	n.Owner = strp("owner-1")
	return n
}

const fuzzChassis = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"

// FuzzPatch sends arbitrary PATCH bodies to a node, a port and a chassis,
// at an arbitrary microversion; each input starts from the same rows.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"add","path":"/extra/foo","value":"bar"}]`,
		`[{"op":"replace","path":"/driver_info/bmcs/0/password","value":"******"}]`,
		`[{"op":"remove","path":"/properties/root_device/size"},{"op":"add","path":"/name","value":"n-2"}]`,
		`[{"op":"add","path":"/driver_info/bmcs/-","value":{"x":[]}}]`,
	} {
		f.Add([]byte(s), uint8(0), "latest")
	}
	f.Add([]byte(`[{"op":"replace","path":"/address","value":"52:54:00:12:34:57"}]`), uint8(1), "1.53")
	f.Add([]byte(`[{"op":"add","path":"/description","value":"d"}]`), uint8(2), "")
	e := newEnv(f)
	h := e.app.Handler()
	f.Fuzz(func(t *testing.T, body []byte, which uint8, version string) {
		resetFuzzRows(t, e.st)
		paths := []string{"/v1/nodes/" + sampleUUID, "/v1/ports/" + portUUID, "/v1/chassis/" + fuzzChassis}
		path := paths[int(which)%len(paths)]
		_, before, _ := serve(h, "GET", path, nil, "latest")
		status, out, ct := serve(h, "PATCH", path, body, version)
		checkAnswer(t, "PATCH "+path, status, out, ct)
		if status >= 400 {
			if _, after, _ := serve(h, "GET", path, nil, "latest"); !bytes.Equal(before, after) {
				t.Fatalf("refused PATCH %q changed %s:\nbefore %s\nafter  %s", body, path, before, after)
			}
		}
	})
}

// resetFuzzRows (re)creates the fuzz targets' node (in its chassis), port
// and chassis as fuzzNode, samplePort and fuzzChassis.
func resetFuzzRows(t *testing.T, st *store.Store) {
	ctx := context.Background()
	if err := st.DeleteNode(ctx, sampleUUID); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if err := st.DeleteChassis(ctx, fuzzChassis); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	if _, err := st.CreateChassis(ctx, store.Chassis{UUID: fuzzChassis, Extra: json.RawMessage(`{"a":[1]}`),
		CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	n := fuzzNode()
	n.ChassisUUID = strp(fuzzChassis)
	if _, err := st.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePort(ctx, samplePort()); err != nil {
		t.Fatal(err)
	}
}

// FuzzListQuery sends arbitrary query strings (and microversions) to every
// collection of nodes, ports and chassis.
func FuzzListQuery(f *testing.F) {
	for _, q := range []string{
		"driver=fake-hardware&provision_state=enroll&limit=1&sort_key=name&sort_dir=desc",
		"fields=uuid,name,driver_info&maintenance=true&associated=0",
		"detail=True&owner=owner-1&shard=a,b&sharded=false&description_contains=x",
		"marker=" + sampleUUID + "&limit=1",
		"address=52:54:00:12:34:56&node=sample-node",
		"driver=%00&owner=%ff",
		"conductor=localhost&fault=power%20failure&resource_class=r&conductor_group=G&lessee=l&project=p",
		"instance_uuid=" + sampleUUID + "&chassis_uuid=" + fuzzChassis + "&retired=no",
		"limit=-1&sort_key=properties",
	} {
		f.Add(q, uint8(0), "latest")
	}
	f.Add("fields=uuid", uint8(4), "1.7")
	e := newEnv(f)
	h := e.app.Handler()
	for _, c := range []struct{ path, body string }{
		{"/v1/chassis", `{"uuid":"` + fuzzChassis + `"}`},
		{"/v1/nodes", `{"uuid":"` + sampleUUID + `","name":"sample-node","driver":"fake-hardware","owner":"owner-1","chassis_uuid":"` + fuzzChassis + `"}`},
		{"/v1/ports", `{"uuid":"` + portUUID + `","address":"52:54:00:12:34:56","node_uuid":"` + sampleUUID + `"}`},
	} {
		if status, out, _ := serve(h, "POST", c.path, []byte(c.body), "latest"); status != 201 {
			f.Fatalf("seed %s: %d %s", c.path, status, out)
		}
	}
	paths := []string{"/v1/nodes", "/v1/nodes/detail", "/v1/ports", "/v1/ports/detail", "/v1/chassis",
		"/v1/chassis/detail", "/v1/chassis/" + fuzzChassis + "/nodes", "/v1/nodes/" + sampleUUID + "/ports/detail"}
	f.Fuzz(func(t *testing.T, query string, which uint8, version string) {
		path := paths[int(which)%len(paths)]
		status, out, ct := serve(h, "GET", path+"?"+query, nil, version)
		checkAnswer(t, "GET "+path+"?"+query, status, out, ct)
	})
}
