package api

// FuzzContinueInspection: whatever a ramdisk posts to POST
// /v1/continue_inspection, the answer is never a 5xx; an error is
// Ironic-shaped; a payload the parser accepts splits into an inventory and
// a plugin_data that are JSON objects, and its lookup MACs are valid.
// The seed corpus is testdata/fuzz/FuzzContinueInspection plus the cases
// below, the real ironic-python-agent payload among them.
//
//	go test -run '^$' -fuzz '^FuzzContinueInspection$' -fuzztime 60s ./api/

import (
	"encoding/json"
	"testing"

	"github.com/ferric-project/ferric/node"
)

func FuzzContinueInspection(f *testing.F) {
	for _, s := range []string{
		`{"inventory":{"interfaces":[{"mac_address":"52:54:00:00:00:01","name":"eth0"}]}}`,
		`{"inventory":{"interfaces":[{"mac_address":"52:54:00:00:00:01"}],"bmc_address":"192.0.2.5","bmc_v6address":null},"error":"boom"}`,
		`{"inventory":{"interfaces":[]}}`, `{"inventory":{}}`, `[]`, `null`, `{"inventory":{"interfaces":[{"mac_address":5}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Add(ipaPayload(f))
	e := newEnv(f)
	seedInspectWait(inspMACUUID, node.InspectWait, nil)(e)
	h := e.app.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		if p, err := parseInspectionPayload(body); err == nil {
			var inv, pd map[string]json.RawMessage
			if json.Unmarshal(p.inventory, &inv) != nil || json.Unmarshal(p.pluginData, &pd) != nil {
				t.Fatalf("split into %s and %s", p.inventory, p.pluginData)
			}
			if _, ok := pd["inventory"]; ok {
				t.Fatalf("plugin_data keeps the inventory: %s", p.pluginData)
			}
			for _, m := range p.macs {
				if v, ok := isValidMAC(m); !ok || v != m {
					t.Fatalf("lookup MAC %q", m)
				}
			}
		} else if ae, ok := err.(*apiError); !ok || ae.status != 400 {
			t.Fatalf("parse error %T %v", err, err)
		}
		for _, v := range []string{"", "1.84"} {
			status, out, ct := serve(h, "POST", "/v1/continue_inspection", body, v)
			checkAnswer(t, "continue_inspection", status, out, ct)
		}
	})
}
