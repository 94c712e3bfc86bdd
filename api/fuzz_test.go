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
//	go test -run '^$' -fuzz '^FuzzCreate$' -fuzztime 60s ./api/
//	go test -run '^$' -fuzz '^FuzzVIF$' -fuzztime 60s ./api/
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

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
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
	f.Add([]byte(`[{"op":"replace","path":"/mode","value":null},{"op":"add","path":"/properties/x","value":[1]}]`), uint8(3), "latest")
	f.Add([]byte(`[{"op":"replace","path":"/standalone_ports_supported","value":"false"}]`), uint8(3), "1.25")
	f.Add([]byte(`[{"op":"replace","path":"/node_uuid","value":"`+otherUUID+`"}]`), uint8(3), "latest")
	f.Add([]byte(`[{"op":"replace","path":"/portgroup_uuid","value":null}]`), uint8(1), "latest")
	f.Add([]byte(`[{"op":"replace","path":"/type","value":"wwpn"},{"op":"remove","path":"/extra"}]`), uint8(4), "latest")
	f.Add([]byte(`[{"op":"replace","path":"/boot_index","value":1e9},{"op":"add","path":"/properties/auth_password","value":"******"}]`), uint8(5), "latest")
	e := newEnv(f)
	h := e.app.Handler()
	f.Fuzz(func(t *testing.T, body []byte, which uint8, version string) {
		resetFuzzRows(t, e.st)
		paths := []string{"/v1/nodes/" + sampleUUID, "/v1/ports/" + portUUID, "/v1/chassis/" + fuzzChassis,
			"/v1/portgroups/" + pg0UUID, "/v1/volume/connectors/" + vc1UUID, "/v1/volume/targets/" + vt1UUID}
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

// resetFuzzRows (re)creates the fuzz targets' node (in its chassis, powered
// off), port (in a port group), chassis, port group, volume connector and
// target, and a second node.
func resetFuzzRows(t *testing.T, st *store.Store) {
	ctx := context.Background()
	for _, id := range []string{sampleUUID, otherUUID} {
		if err := st.DeleteNode(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
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
	n.PowerState = node.PowerOff
	if _, err := st.CreateNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateNode(ctx, otherNode()); err != nil {
		t.Fatal(err)
	}
	g := pg0()
	g.InternalInfo = json.RawMessage(`{"tenant_vif_port_id":"vif-0"}`)
	if _, err := st.CreatePortgroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	p := samplePort()
	p.PortgroupUUID = strp(pg0UUID)
	if _, err := st.CreatePort(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateVolumeConnector(ctx, threeConnectors()[1]); err != nil {
		t.Fatal(err)
	}
	vc := threeConnectors()[0]
	vc.NodeUUID = sampleUUID
	if _, err := st.CreateVolumeConnector(ctx, vc); err != nil {
		t.Fatal(err)
	}
	vt := threeTargets()[0]
	vt.NodeUUID = sampleUUID
	if _, err := st.CreateVolumeTarget(ctx, vt); err != nil {
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
	f.Add("portgroup=pg-0&limit=1&sort_key=address", uint8(2), "latest")
	f.Add("fields=mode,properties&sort_key=mode&address=52:54:00:AA:BB:CC", uint8(8), "1.25")
	f.Add("detail=True&fields=uuid&node=sample-node", uint8(12), "latest")
	f.Add("sort_key=boot_index&sort_dir=desc&detail=false&marker="+sampleUUID, uint8(13), "1.32")
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
	for _, c := range []struct{ path, body string }{
		{"/v1/portgroups", `{"uuid":"` + pg0UUID + `","name":"pg-0","address":"52:54:00:aa:bb:cc","node_uuid":"` + sampleUUID + `"}`},
		{"/v1/volume/connectors", `{"node_uuid":"` + sampleUUID + `","type":"iqn","connector_id":"iqn.x"}`},
		{"/v1/volume/targets", `{"node_uuid":"` + sampleUUID + `","volume_type":"iscsi","boot_index":0,"volume_id":"v"}`},
	} {
		if status, out, _ := serve(h, "POST", c.path, []byte(c.body), "latest"); status != 201 {
			f.Fatalf("seed %s: %d %s", c.path, status, out)
		}
	}
	paths := []string{"/v1/nodes", "/v1/nodes/detail", "/v1/ports", "/v1/ports/detail", "/v1/chassis",
		"/v1/chassis/detail", "/v1/chassis/" + fuzzChassis + "/nodes", "/v1/nodes/" + sampleUUID + "/ports/detail",
		"/v1/portgroups", "/v1/portgroups/detail", "/v1/nodes/" + sampleUUID + "/portgroups",
		"/v1/portgroups/pg-0/ports/detail", "/v1/volume/connectors", "/v1/volume/targets",
		"/v1/nodes/sample-node/volume/targets"}
	f.Fuzz(func(t *testing.T, query string, which uint8, version string) {
		path := paths[int(which)%len(paths)]
		status, out, ct := serve(h, "GET", path+"?"+query, nil, version)
		checkAnswer(t, "GET "+path+"?"+query, status, out, ct)
	})
}

// FuzzCreate sends arbitrary create bodies for port groups, ports (in port
// groups), volume connectors and volume targets: a refused create writes
// nothing.
func FuzzCreate(f *testing.F) {
	for i, s := range []string{
		`{"node_uuid":"` + sampleUUID + `","name":"bond1","mode":"802.3ad","properties":{"miimon":"100"},"standalone_ports_supported":"no"}`,
		`{"address":"52:54:00:12:34:99","node_uuid":"` + sampleUUID + `","portgroup_uuid":"` + pg0UUID + `","pxe_enabled":"1"}`,
		`{"node_uuid":"` + sampleUUID + `","type":"iqn","connector_id":"iqn.2010-10.org.openstack:x","extra":null}`,
		`{"node_uuid":"` + sampleUUID + `","volume_type":"iscsi","boot_index":1.0,"volume_id":"v","properties":{"password":"p"}}`,
	} {
		f.Add([]byte(s), uint8(i), "latest")
	}
	f.Add([]byte(`{"node_uuid":"`+otherUUID+`","mode":"","properties":{}}`), uint8(0), "1.25")
	f.Add([]byte(`{"node_uuid":"`+sampleUUID+`","boot_index":2147483648,"volume_type":"","volume_id":""}`), uint8(3), "latest")
	e := newEnv(f)
	h := e.app.Handler()
	paths := []string{"/v1/portgroups", "/v1/ports", "/v1/volume/connectors", "/v1/volume/targets"}
	f.Fuzz(func(t *testing.T, body []byte, which uint8, version string) {
		resetFuzzRows(t, e.st)
		path := paths[int(which)%len(paths)]
		_, before, _ := serve(h, "GET", path+"/detail?detail=True", nil, "latest")
		status, out, ct := serve(h, "POST", path, body, version)
		checkAnswer(t, "POST "+path, status, out, ct)
		if status >= 400 {
			if _, after, _ := serve(h, "GET", path+"/detail?detail=True", nil, "latest"); !bytes.Equal(before, after) {
				t.Fatalf("refused POST %q changed %s:\nbefore %s\nafter  %s", body, path, before, after)
			}
		}
	})
}

// FuzzVIF sends arbitrary VIF attach bodies and detach identifiers to a
// node with the flat network interface: a refused request writes nothing;
// an attached VIF is on exactly one port or port group.
func FuzzVIF(f *testing.F) {
	for _, s := range []string{`{"id":"vif-1"}`, `{"id":"vif-0"}`, `{"id":"vif-1","port_uuid":"` + portUUID + `"}`,
		`{"id":"vif-1","portgroup_uuid":"` + pg0UUID + `","port_uuid":null}`, `{"id":"a b"}`, `{"id":"vif-1","x":{"y":[]}}`} {
		f.Add([]byte(s), "vif-0", "latest")
	}
	f.Add([]byte(`{"id":"`+sampleUUID+`","port_uuid":"","portgroup_uuid":0}`), "%20", "1.66")
	e := newEnv(f)
	h := e.app.Handler()
	ctx := context.Background()
	snapshot := func(t *testing.T) (string, []string) {
		ports, err := e.st.ListPorts(ctx, store.ListPorts{})
		if err != nil {
			t.Fatal(err)
		}
		groups, err := e.st.ListPortgroups(ctx, store.ListPortgroups{})
		if err != nil {
			t.Fatal(err)
		}
		var vifs []string
		for i := range ports {
			vifs = append(vifs, tenantVIF(ports[i].InternalInfo))
		}
		for i := range groups {
			vifs = append(vifs, tenantVIF(groups[i].InternalInfo))
		}
		b, _ := json.Marshal([]any{ports, groups})
		return string(b), vifs
	}
	f.Fuzz(func(t *testing.T, body []byte, detach, version string) {
		resetFuzzRows(t, e.st)
		n := must(e.st.Node(ctx, sampleUUID))(t)
		n.Interfaces.Network = "flat"
		if _, err := e.st.UpdateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.CreatePort(ctx, store.Port{Address: "52:54:00:00:00:aa", NodeUUID: sampleUUID, PXEEnabled: true}); err != nil {
			t.Fatal(err)
		}
		path := "/v1/nodes/" + sampleUUID + "/vifs"
		before, _ := snapshot(t)
		status, out, ct := serve(h, "POST", path, body, version)
		checkAnswer(t, "POST "+path, status, out, ct)
		after, vifs := snapshot(t)
		switch {
		case status >= 400 && before != after:
			t.Fatalf("refused attach %q changed the ports:\nbefore %s\nafter  %s", body, before, after)
		case status == 204:
			v, err := jsonwire.Decode(body)
			if err != nil {
				t.Fatalf("attach %q accepted, body unreadable: %v", body, err)
			}
			id, _ := v.(*jsonwire.Object).Value("id").(string)
			count := 0
			for _, v := range vifs {
				if v == id {
					count++
				}
			}
			if count != 1 {
				t.Fatalf("attach %q: VIF on %d objects (%v)", body, count, vifs)
			}
		}
		before = after
		status, out, ct = serve(h, "DELETE", path+"/"+detach, nil, version)
		checkAnswer(t, "DELETE "+path+"/"+detach, status, out, ct)
		if after, _ := snapshot(t); status >= 400 && before != after {
			t.Fatalf("refused detach %q changed the ports", detach)
		}
	})
}
