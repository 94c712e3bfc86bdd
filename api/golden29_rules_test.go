package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferric-project/ferric/store"
)

// The rules of the inspection rule captures (rules_*.txt), as Ironic 29
// stored them: created by rules_create, rules_create_sensitive and
// rules_create_minimal, then changed by the PATCH captures in their order.
const (
	ruleCPU    = "7c6e1f0a-2222-4a4a-9a9a-000000000001"
	ruleSecret = "7c6e1f0a-2222-4a4a-9a9a-000000000002"
	ruleLog    = "7c6e1f0a-2222-4a4a-9a9a-000000000003"
)

// ruleCPUConditions and ruleCPUActions are what rules_create stored (the
// plugin data actions' arguments as Ironic's validation leaves them); each
// PATCH appends one more {} to the extend-plugin-data list arguments.
const ruleCPUConditions = `[{"op":"eq","args":{"values":["{inventory[cpu][architecture]}","x86_64"]}},` +
	`{"op":"!is-empty","args":["{inventory[interfaces]}"],"loop":[1,2],"multiple":"all"},` +
	`{"op":"is-true","args":{"value":true},"multiple":"first"}]`

func ruleCPUActions(extra int, more string) string {
	return `[{"op":"set-attribute","args":{"path":"/properties/cpu_arch","value":"{inventory[cpu][architecture]}"}},` +
		`{"op":"set-plugin-data","args":{"path":"a.b","value":1,"plugin_data":{}}},` +
		`{"op":"extend-plugin-data","args":["macs","{item}"` + strings.Repeat(",{}", extra) + `],"loop":["m1","m2"]},` +
		`{"op":"add-trait","args":["CUSTOM_X86"]}` + more + `]`
}

// putRule seeds one inspection rule as given.
func (e *testEnv) putRule(r store.InspectionRule) {
	e.t.Helper()
	must(e.st.CreateInspectionRule(context.Background(), r))(e.t)
	if r.UpdatedAt != nil { // Create does not write updated_at
		_, err := e.st.Pool().Exec(context.Background(), `UPDATE inspection_rules SET updated_at = $2 WHERE uuid = $1`,
			r.UUID, *r.UpdatedAt)
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// ruleState is the three rules at one point of the captures.
type ruleState struct {
	cpuDesc       string
	cpuPrio       int32
	cpuExtra      int
	cpuMore       string
	cpuUpdated    string
	secretPrio    int32
	secretUpdated string
	logPhase      *string
	logUpdated    string
	noSecret      bool
	noLog         bool
}

func optTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := ts(s)
	return &t
}

// seedRules seeds the rules in state st.
func seedRules(st ruleState) func(*testEnv) {
	return func(e *testEnv) {
		main := "main"
		cpuDesc, secretDesc := st.cpuDesc, "rules-secret"
		e.putRule(store.InspectionRule{UUID: ruleCPU, Priority: st.cpuPrio, Description: &cpuDesc, Phase: &main,
			Conditions: json.RawMessage(ruleCPUConditions),
			Actions:    json.RawMessage(ruleCPUActions(st.cpuExtra, st.cpuMore)),
			CreatedAt:  ts("2026-12-03T19:06:57.625109Z"), UpdatedAt: optTime(st.cpuUpdated)})
		if !st.noSecret {
			e.putRule(store.InspectionRule{UUID: ruleSecret, Priority: st.secretPrio, Description: &secretDesc,
				Sensitive: true, Phase: &main, Conditions: json.RawMessage(`[]`),
				Actions: json.RawMessage(`[{"op":"set-attribute","args":{"path":"driver_info.ipmi_password",` +
					`"value":"{inventory[bmc_password]}"}}]`),
				CreatedAt: ts("2026-12-03T19:06:57.958318Z"), UpdatedAt: optTime(st.secretUpdated)})
		}
		if !st.noLog {
			e.putRule(store.InspectionRule{UUID: ruleLog, Phase: st.logPhase, Conditions: json.RawMessage(`[]`),
				Actions:   json.RawMessage(`[{"op":"log","args":["hello","warning"]}]`),
				CreatedAt: ts("2026-12-03T19:06:58.398313Z"), UpdatedAt: optTime(st.logUpdated)})
		}
	}
}

// TestGolden29InspectionRules replays Ironic 29's inspection rule
// exchanges (API 1.96): the version gate, create with its validation,
// get and list with their parameters, patch, delete.
func TestGolden29InspectionRules(t *testing.T) {
	t.Parallel()
	main := "main"
	created := ruleState{cpuDesc: "rules-cpu", cpuPrio: 50, cpuExtra: 1, secretPrio: 10, logPhase: &main}
	afterDesc := created
	afterDesc.cpuDesc, afterDesc.cpuPrio, afterDesc.cpuExtra = "rules-cpu2", 60, 2
	afterDesc.cpuUpdated = "2026-12-03T19:07:08.465907Z"
	afterPlugin := afterDesc
	afterPlugin.cpuExtra, afterPlugin.cpuMore = 3, `,{"op":"extend-plugin-data","args":["k","v",{}]}`
	afterPlugin.cpuUpdated = "2026-12-03T19:07:12.384649Z"
	phaseRemoved := afterDesc
	phaseRemoved.logPhase, phaseRemoved.logUpdated = nil, "2026-12-03T19:07:09.375177Z"
	onlyCPU := created
	onlyCPU.noSecret, onlyCPU.noLog = true, true
	logDeleted := created
	logDeleted.noLog = true
	withCPU := seedRules(onlyCPU)
	all := seedRules(created)
	runGolden29(t, []goldenCase{
		{file: "rules_list_empty.txt"},
		{file: "rules_list_1_95.txt"},
		{file: "rules_create_1_95.txt"},
		{file: "rules_get_1_95.txt", seed: all},
		{file: "rules_patch_1_95.txt", seed: all},
		{file: "rules_delete_1_95.txt", seed: all},
		{file: "rules_create.txt", now: []string{"created_at"}},
		{file: "rules_create_sensitive.txt", seed: withCPU, now: []string{"created_at"}},
		{file: "rules_create_minimal.txt", seed: withCPU, now: []string{"created_at"}},
		{file: "rules_create_dup.txt", seed: all},
		{file: "rules_get.txt", seed: all},
		{file: "rules_get_sensitive.txt", seed: all},
		{file: "rules_get_fields.txt", seed: all},
		{file: "rules_get_bad_fields.txt", seed: all},
		{file: "rules_get_404.txt", seed: all},
		{file: "rules_get_bad_uuid.txt", seed: all},
		{file: "rules_list.txt", seed: all},
		{file: "rules_list_detail.txt", seed: all},
		{file: "rules_list_sorted.txt", seed: all},
		{file: "rules_list_fields.txt", seed: all},
		{file: "rules_list_limit.txt", seed: all},
		{file: "rules_list_limit_phase.txt", seed: all},
		{file: "rules_list_marker.txt", seed: all},
		{file: "rules_list_marker_404.txt", seed: all},
		{file: "rules_list_sort_bad.txt", seed: all},
		{file: "rules_list_sort_actions.txt", seed: all},
		{file: "rules_list_detail_fields.txt", seed: all},
		{file: "rules_list_bad_arg.txt", seed: all},
		{file: "rules_list_limit_0.txt", seed: all},
		{file: "rules_create_empty.txt"},
		{file: "rules_create_list.txt"},
		{file: "rules_create_no_actions.txt"},
		{file: "rules_create_bad_action.txt"},
		{file: "rules_create_no_args.txt"},
		{file: "rules_create_args_str.txt"},
		{file: "rules_create_bad_condition.txt"},
		{file: "rules_create_bad_multiple.txt"},
		{file: "rules_create_builtin.txt"},
		{file: "rules_create_negative.txt"},
		{file: "rules_create_priority_big.txt"},
		{file: "rules_create_priority_str.txt"},
		{file: "rules_create_phase_bad.txt"},
		{file: "rules_create_phase_long.txt"},
		{file: "rules_create_phase_null.txt"},
		{file: "rules_create_multiple_errors.txt"},
		{file: "rules_create_bad_uuid.txt"},
		{file: "rules_create_sensitive_str.txt"},
		{file: "rules_create_desc_long.txt"},
		{file: "rules_create_conditions_obj.txt"},
		{file: "rules_patch_desc.txt", seed: all, now: []string{"updated_at"}},
		{file: "rules_patch_noop.txt", seed: seedRules(afterDesc)},
		{file: "rules_patch_unset_sensitive.txt", seed: seedRules(afterDesc)},
		{file: "rules_patch_sensitive_prio.txt", seed: seedRules(afterDesc), now: []string{"updated_at"}},
		{file: "rules_patch_remove_phase.txt", seed: seedRules(afterDesc), now: []string{"updated_at"}},
		{file: "rules_patch_null_phase.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_priority_big.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_priority_neg.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_remove_actions.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_add_builtin.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_bad_action.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_replace_missing.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_not_list.txt", seed: seedRules(phaseRemoved)},
		{file: "rules_patch_bad_uuid.txt"},
		{file: "rules_patch_404.txt"},
		{file: "rules_patch_no_ident.txt"},
		{file: "rules_patch_plugin_list.txt", seed: seedRules(phaseRemoved), now: []string{"updated_at"}},
		{file: "rules_patch_plugin_again.txt", seed: seedRules(afterPlugin), now: []string{"updated_at"}},
		{file: "rules_delete_no_ident.txt"},
		{file: "rules_delete_bad_uuid.txt"},
		{file: "rules_delete.txt", seed: all, check: func(t *testing.T, e *testEnv) {
			if _, err := e.st.InspectionRule(context.Background(), ruleLog); err == nil {
				t.Error("rule still stored after DELETE")
			}
		}},
		{file: "rules_delete_404.txt", seed: seedRules(logDeleted)},
	})
}

// TestGolden29InspectionRuleArgs replays the argument errors Ironic 29
// answers with a 500 (its InspectionRuleValidationFailure is not caught as
// a client error): ferric answers 400 with the same message, written out
// where Ironic's shows a Python tuple.
func TestGolden29InspectionRuleArgs(t *testing.T) {
	t.Parallel()
	shared := newEnv(t)
	for _, file := range []string{"rules_create_args_missing.txt", "rules_create_args_unexpected.txt",
		"rules_create_args_short.txt", "rules_create_cond_args_missing.txt"} {
		t.Run(strings.TrimSuffix(file, ".txt"), func(t *testing.T) {
			c := loadCapture(t, ironic29Prefix+file)
			if c.status != 500 {
				t.Fatalf("capture status %d, want Ironic's 500", c.status)
			}
			want := strings.Replace(c.body, `\"faultcode\": \"Server\"`, `\"faultcode\": \"Client\"`, 1)
			want = strings.NewReplacer(`('Not enough arguments provided. Missing: %s', '`, "Not enough arguments provided. Missing: ",
				`')\"`, `\"`).Replace(want)
			e := shared.reuse(t)
			resp, body := e.do(t, c.method, c.path, c.reqBody, c.reqHeaders)
			if resp.StatusCode != 400 || body != want {
				t.Errorf("got %d %s\nwant 400 %s", resp.StatusCode, body, want)
			}
		})
	}
}
