package api

import (
	"testing"

	"github.com/ferric-project/ferric/jsonwire"
)

// TestCheckSteps: each of the three step list schemas (clean_steps and
// deploy_steps as Ironic 21.4, service_steps as Ironic 29) answers each
// way a step can break it with the message Ironic's jsonschema gives
// first, and accepts what the schema allows.
func TestCheckSteps(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		schema stepListSchema
		steps  string
		want   string // "" = valid
	}{
		{cleanStepSchema(), `[{"interface":"deploy","step":"erase_devices","args":{}}]`, ""},
		{cleanStepSchema(), `[5]`, "Invalid clean_steps: 5 is not of type 'object'"},
		{cleanStepSchema(), `[{"interface":"deploy","step":"x","priority":1}]`,
			"Invalid clean_steps: Additional properties are not allowed ('priority' was unexpected)"},
		{cleanStepSchema(), `[{"interface":"deploy"}]`, "Invalid clean_steps: 'step' is a required property"},
		{cleanStepSchema(), `[{"interface":"boot","step":"x"}]`,
			"Invalid clean_steps: 'boot' is not one of ['power', 'management', 'deploy', 'bios', 'raid', 'firmware']"},
		{cleanStepSchema(), `[{"interface":"deploy","step":""}]`, "Invalid clean_steps: '' is not of type 'string'"},
		{cleanStepSchema(), `[{"interface":"deploy","step":5}]`, "Invalid clean_steps: 5 is not of type 'string'"},
		{cleanStepSchema(), `[{"interface":"deploy","step":"x","args":"a"}]`,
			"Invalid clean_steps: 'a' is not of type 'object'"},

		{deployStepSchema(), `[{"interface":"deploy","step":"x","args":{},"priority":"05"}]`, ""},
		{deployStepSchema(), `[{"interface":"deploy","step":"x","priority":5}]`,
			"Invalid deploy_steps: 'args' is a required property"},
		{deployStepSchema(), `[{"interface":"rescue","step":"x","args":{},"priority":5}]`,
			"Invalid deploy_steps: 'rescue' is not one of ['deploy', 'power', 'management', 'bios', 'raid', 'storage', 'firmware']"},
		{deployStepSchema(), `[{"interface":"deploy","step":"x","args":{},"priority":-1}]`,
			"Invalid deploy_steps: -1 is not valid under any of the given schemas"},
		{deployStepSchema(), `[{"interface":"deploy","step":"x","args":{},"priority":"+5"}]`,
			"Invalid deploy_steps: '+5' is not valid under any of the given schemas"},
		{deployStepSchema(), `[{"interface":"deploy","step":"x","args":{},"priority":"99999999999999999999"}]`,
			"Invalid deploy_steps: '99999999999999999999' is not valid under any of the given schemas"},
		{deployStepSchema(), `[{"interface":"deploy","step":"x","args":{},"priority":null}]`,
			"Invalid deploy_steps: None is not valid under any of the given schemas"},

		{serviceStepSchema(), `[{"interface":"vendor","step":"x","order":3,"execute_on_child_nodes":true,` +
			`"limit_child_node_execution":[]}]`, ""},
		{serviceStepSchema(), `[{"interface":"deploy","step":""}]`, "Invalid service_steps: '' should be non-empty"},
		{serviceStepSchema(), `[{"interface":"deploy","step":"x","execute_on_child_nodes":"yes"}]`,
			"Invalid service_steps: 'yes' is not of type 'boolean'"},
		{serviceStepSchema(), `[{"interface":"deploy","step":"x","limit_child_node_execution":{}}]`,
			"Invalid service_steps: {} is not of type 'array'"},
		{serviceStepSchema(), `[{"interface":"deploy","step":"x","order":"x"}]`,
			"Invalid service_steps: 'x' is not valid under any of the given schemas"},
		{serviceStepSchema(), `[{"interface":"boot","step":"x"}]`,
			"Invalid service_steps: 'boot' is not one of ['vendor', 'power', 'management', 'firmware', 'deploy', 'bios', 'raid']"},
	} {
		v, err := jsonwire.Decode([]byte(tt.steps))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if aerr := checkSteps(tt.schema, v.([]any)); aerr != nil {
			got = aerr.msg
		}
		if got != tt.want {
			t.Errorf("%s %s:\n got %q\nwant %q", tt.schema.name, tt.steps, got, tt.want)
		}
	}
}
