package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/store"
)

// FuzzTemplatePatch sends arbitrary PATCH bodies to a deploy template (JSON
// patches reach into its steps and their arguments) at an arbitrary
// microversion, and arbitrary target RAID configurations to a node; each
// input starts from the same rows. The properties are FuzzPatch's.
func FuzzTemplatePatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"/steps/0/priority","value":"7"},{"op":"add","path":"/extra/a","value":[1]}]`,
		`[{"op":"add","path":"/steps/-","value":{"interface":"raid","step":"x","args":{"password":"p"},"priority":1}}]`,
		`[{"op":"remove","path":"/steps/0/args/settings/0"},{"op":"replace","path":"/name","value":"CUSTOM_B"}]`,
		`[{"op":"add","path":"/steps/0/args/settings/-","value":{"name":"Y"}}]`,
	} {
		f.Add([]byte(s), uint8(0), "latest")
	}
	f.Add([]byte(`{"logical_disks":[{"size_gb":"MAX","raid_level":"1+0","physical_disks":[{},{}],"controller":"c"}]}`),
		uint8(1), "1.50")
	e := newEnv(f)
	h := e.app.Handler()
	f.Fuzz(func(t *testing.T, body []byte, which uint8, version string) {
		ctx := context.Background()
		if err := e.st.DeleteDeployTemplate(ctx, tmplUUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := e.st.CreateDeployTemplate(ctx, store.DeployTemplate{UUID: tmplUUID, Name: "CUSTOM_A",
			Extra: json.RawMessage(`{}`), Steps: json.RawMessage(stepBIOS150)}); err != nil {
			t.Fatal(err)
		}
		if err := e.st.DeleteNode(ctx, sampleUUID); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		n := sampleNode()
		n.Interfaces.RAID = "agent"
		if _, err := e.st.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
		method, path, get := "PATCH", "/v1/deploy_templates/"+tmplUUID, "/v1/deploy_templates/"+tmplUUID
		if which%2 == 1 {
			method, path, get = "PUT", "/v1/nodes/"+sampleUUID+"/states/raid", "/v1/nodes/"+sampleUUID
		}
		_, before, _ := serve(h, "GET", get, nil, "latest")
		status, out, ct := serve(h, method, path, body, version)
		checkAnswer(t, method+" "+path, status, out, ct)
		if status >= 400 {
			if _, after, _ := serve(h, "GET", get, nil, "latest"); !bytes.Equal(before, after) {
				t.Fatalf("refused %s %q changed %s:\nbefore %s\nafter  %s", method, body, get, before, after)
			}
		}
	})
}

// FuzzTemplateQuery sends arbitrary query strings (and microversions) to
// the deploy template collection and a node's BIOS settings.
func FuzzTemplateQuery(f *testing.F) {
	for _, q := range []string{
		"limit=1&sort_key=name&sort_dir=desc&fields=name,steps",
		"detail=True&marker=" + tmplUUID,
		"fields=name,attribute_type,allowable_values",
		"detail=false&fields=bogus&sort_key=steps",
	} {
		f.Add(q, uint8(0), "latest")
	}
	f.Add("detail=True", uint8(1), "1.73")
	e := newEnv(f)
	h := e.app.Handler()
	ctx := context.Background()
	if _, err := e.st.CreateDeployTemplate(ctx, store.DeployTemplate{UUID: tmplUUID, Name: "CUSTOM_A",
		Extra: json.RawMessage(`{}`), Steps: json.RawMessage(stepsRAIDTmpl)}); err != nil {
		f.Fatal(err)
	}
	if _, err := e.st.CreateNode(ctx, sampleNode()); err != nil {
		f.Fatal(err)
	}
	v := "Uefi"
	if err := e.st.ApplyBIOSChange(ctx, sampleUUID, drivers.BIOSChange{Settings: []drivers.BIOSSetting{
		{Name: "BootMode", Value: &v, AllowableValues: []string{"Bios", "Uefi"}}}}); err != nil {
		f.Fatal(err)
	}
	paths := []string{"/v1/deploy_templates", "/v1/nodes/" + sampleUUID + "/bios",
		"/v1/nodes/" + sampleUUID + "/bios/BootMode", "/v1/deploy_templates/CUSTOM_A"}
	f.Fuzz(func(t *testing.T, query string, which uint8, version string) {
		path := paths[int(which)%len(paths)]
		status, out, ct := serve(h, "GET", path+"?"+query, nil, version)
		checkAnswer(t, "GET "+path+"?"+query, status, out, ct)
	})
}
