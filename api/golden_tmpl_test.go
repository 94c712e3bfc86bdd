package api

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// The captures of deploy templates, RAID and BIOS settings (dt_*, raid_*,
// bios_*) were taken from Ironic 21.4 on 2026-12-03 (its clock), in two
// runs; the seeds below rebuild the state each was taken in.

const (
	tmplUUID      = "6f1e6c7a-3b0f-4a3e-9a6e-7f2d1c0b9e11" // CUSTOM_HYPERTHREADING
	tmplRAIDUUID  = "0c3b5e2a-8d4f-4b1e-a6c2-3d9e8f7a6b54" // CUSTOM_RAID
	raidNodeUUID  = "3a1c2b4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" // ipmi, raid_interface agent
	noRAIDNode    = "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e" // ipmi, no-raid
	biosNodeUUID  = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f" // fake, manageable
	stepBIOS150   = `[{"interface":"bios","step":"apply_configuration","args":{"settings":[{"name":"LogicalProc","value":"Enabled"}]},"priority":150}]`
	stepsPatched  = `[{"interface":"bios","step":"apply_configuration","args":{"settings":[{"name":"LogicalProc","value":"Enabled"}]},"priority":100},{"interface":"deploy","step":"erase_devices_metadata","args":{},"priority":10}]`
	stepsRAIDTmpl = `[{"interface":"raid","step":"apply_configuration","args":{"raid_config":{"logical_disks":[{"raid_level":"1","size_gb":"MAX"}]},"password":"hunter2","nested":{"admin_password":"x","ok":1}},"priority":50},{"interface":"deploy","step":"erase_devices_metadata","args":{},"priority":0}]`
)

// putTemplate stores a deploy template as given.
func (e *testEnv) putTemplate(t store.DeployTemplate) {
	e.t.Helper()
	if t.Extra == nil {
		t.Extra = json.RawMessage(`{}`)
	}
	must(e.st.CreateDeployTemplate(context.Background(), t))(e.t)
}

// seedTemplates creates the templates of the first capture run, in its
// order: edit changes CUSTOM_HYPERTHREADING, with lets more be created.
func seedTemplates(edit func(*store.DeployTemplate), with ...string) func(*testEnv) {
	return func(e *testEnv) {
		ht := store.DeployTemplate{UUID: tmplUUID, Name: "CUSTOM_HYPERTHREADING", Extra: json.RawMessage(`{"foo":"bar"}`),
			Steps: json.RawMessage(stepBIOS150), CreatedAt: ts("2026-12-03T10:24:10.898955Z")}
		if edit != nil {
			edit(&ht)
		}
		e.putTemplate(ht)
		all := map[string]store.DeployTemplate{
			"std": {UUID: "60b02ee3-18a1-4cf5-8856-9c2f37b2207f", Name: "HW_CPU_X86_VMX", Steps: json.RawMessage(stepBIOS150),
				CreatedAt: ts("2026-12-03T10:24:11.295915Z")},
			"desc": {UUID: "37f84e40-c8fb-42d0-8ae3-22503603e2eb", Name: "CUSTOM_DESC", Steps: json.RawMessage(stepBIOS150),
				CreatedAt: ts("2026-12-03T10:24:11.959588Z")},
			"raid": {UUID: tmplRAIDUUID, Name: "CUSTOM_RAID", Steps: json.RawMessage(stepsRAIDTmpl),
				CreatedAt: ts("2026-12-03T10:24:12.263807Z")},
		}
		for _, k := range with {
			e.putTemplate(all[k])
		}
	}
}

// allTemplates is the state of the list captures.
var allTemplates = seedTemplates(nil, "std", "desc", "raid")

// patchedTemplate is CUSTOM_HYPERTHREADING after dt_patch and
// dt_patch_add_step.
func patchedTemplate(t *store.DeployTemplate) {
	t.Extra = json.RawMessage(`{"foo":"bar","baz":"qux"}`)
	t.Steps = json.RawMessage(stepsPatched)
	t.UpdatedAt = tsp("2026-12-03T10:24:13.454824Z")
}

// deployNode is the node of the dt_deploy_* captures: available, with
// instance traits traits (a JSON value) and the templates they match.
func deployNode(traits string) func(*testEnv) {
	return func(e *testEnv) {
		for _, t := range []store.DeployTemplate{
			{UUID: tmplUUID, Name: "CUSTOM_HYPERTHREADING", Steps: json.RawMessage(stepBIOS150)},
			{Name: "CUSTOM_CORE", Steps: json.RawMessage(`[{"interface":"deploy","step":"deploy","args":{},"priority":100}]`)},
			{Name: "CUSTOM_OFF", Steps: json.RawMessage(`[{"interface":"deploy","step":"deploy","args":{},"priority":0}]`)},
			{Name: "CUSTOM_OFF2", Steps: json.RawMessage(`[{"interface":"deploy","step":"deploy","args":{"x":1},"priority":0}]`)},
		} {
			e.putTemplate(t)
		}
		seedNode(func(n *store.Node) {
			n.ProvisionState = node.Available
			n.Traits = []string{"CUSTOM_HYPERTHREADING", "CUSTOM_CORE", "CUSTOM_OFF", "CUSTOM_OFF2", "CUSTOM_NONE"}
			n.InstanceInfo = json.RawMessage(`{"image_source":"http://example.com/img","traits":` + traits + `}`)
		})(e)
	}
}

// wantTemplateDeploy checks that the deploy started with an operation
// record holding the named templates' steps.
func wantTemplateDeploy(names ...string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		got := e.wf.last()
		in, _ := got.input.(contract.ProvisionInput)
		if got.name != contract.DeployName || in.OperationID == "" {
			t.Fatalf("started %q %+v, want deploy-node with an operation record", got.name, got.input)
		}
		op := must(e.st.Operation(context.Background(), in.OperationID))(t)
		if !slices.Equal(op.TemplateNames, names) {
			t.Errorf("operation's templates %q, want %q", op.TemplateNames, names)
		}
	}
}

// raidNode is the ipmi node of the raid_* captures (raid_interface agent).
func raidNode(iface string) func(*testEnv) {
	return func(e *testEnv) {
		n := sampleNode()
		n.UUID, n.Name, n.Driver = raidNodeUUID, strp("gc-node"), "ipmi"
		n.DriverInfo = json.RawMessage(`{"ipmi_address":"192.168.122.1"}`)
		n.Interfaces = store.Interfaces{Bios: "no-bios", Boot: "ipxe", Console: "no-console", Deploy: "direct",
			Firmware: "no-firmware", Inspect: "no-inspect", Management: "ipmitool", Network: "noop", Power: "ipmitool",
			RAID: iface, Rescue: "no-rescue", Storage: "noop", Vendor: "no-vendor"}
		if iface == "no-raid" {
			n.UUID, n.Name = noRAIDNode, strp("ipmi-noraid")
		}
		e.put(n)
	}
}

// wantTargetRAID checks the stored target_raid_config.
func wantTargetRAID(uuid, want string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		got := e.node(uuid).TargetRAIDConfig
		sorted := func(doc string) string {
			v, err := jsonwire.Decode([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			return string(encodeValue(sortedObject(v)))
		}
		if sorted(string(got)) != sorted(want) {
			t.Errorf("target_raid_config %s, want %s", got, want)
		}
	}
}

// biosNode is the fake node of the bios_* captures, with the settings of
// bios_clean_apply (rows as Ironic stored them).
func biosNode(withSettings bool) func(*testEnv) {
	return func(e *testEnv) {
		seedNode(func(n *store.Node) {
			n.UUID, n.Name, n.ProvisionState = biosNodeUUID, strp("bios-node"), node.Manageable
			n.Extra, n.Properties = json.RawMessage(`{}`), json.RawMessage(`{}`)
		})(e)
		raidNode("no-raid")(e)
		if !withSettings {
			return
		}
		_, err := e.st.Pool().Exec(context.Background(), `INSERT INTO bios_settings (node_id, name, value,
			attribute_type, allowable_values, lower_bound, upper_bound, min_length, max_length, read_only,
			reset_required, is_unique, created_at)
			SELECT n.id, s.* FROM nodes n, (VALUES
				('ProcVirtualization', 'Enabled', NULL, NULL::jsonb, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
					NULL::boolean, NULL::boolean, NULL::boolean, '2026-12-03T10:29:39.633795Z'::timestamptz),
				('BootMode', 'Uefi', 'Enumeration', '["Bios","Uefi"]', NULL, NULL, NULL, NULL, false, true, false,
					'2026-12-03T10:29:39.633800Z'),
				('NumCores', '8', 'Integer', NULL, 1, 64, NULL, NULL, NULL, NULL, NULL, '2026-12-03T10:29:39.633802Z'),
				('AssetTag', 'r1', 'String', NULL, NULL, NULL, 0, 16, NULL, NULL, NULL, '2026-12-03T10:29:39.633803Z')
			) AS s WHERE n.uuid = $1::uuid`, biosNodeUUID)
		if err != nil {
			e.t.Fatalf("seed BIOS settings: %v", err)
		}
	}
}

func TestGoldenTemplatesRAIDBIOS(t *testing.T) {
	t.Parallel()
	ht := seedTemplates(nil)
	tests := []goldenCase{
		// Deploy templates.
		{file: "dt_create.txt", now: []string{"created_at"}, check: func(t *testing.T, e *testEnv) {
			got := must(e.st.DeployTemplate(context.Background(), tmplUUID))(t)
			if got.Name != "CUSTOM_HYPERTHREADING" || canonical(t, string(got.Steps), nil) != canonical(t, stepBIOS150, nil) {
				t.Errorf("stored %+v", got)
			}
		}},
		{file: "dt_create_std_name.txt", now: []string{"created_at"}},
		{file: "dt_create_description.txt", now: []string{"created_at"}},
		{file: "dt_create_dup_name.txt", seed: ht},
		{file: "dt_create_dup_uuid.txt", seed: ht},
		{file: "dt_create_bad_name.txt"},
		{file: "dt_create_no_steps.txt"},
		{file: "dt_create_no_name.txt"},
		{file: "dt_create_empty_steps.txt"},
		{file: "dt_create_bad_iface.txt"},
		{file: "dt_create_bad_priority.txt"},
		{file: "dt_create_no_args.txt"},
		{file: "dt_create_empty_step.txt"},
		{file: "dt_create_step_extra.txt"},
		{file: "dt_create_dup_steps.txt"},
		{file: "dt_create_unknown_field.txt"},
		{file: "dt_create_bad_extra.txt"},
		{file: "dt_create_bad_uuid.txt"},
		{file: "dt_create_not_object.txt"},
		{file: "dt_create_old.txt"},
		{file: "dt_list_old.txt", seed: ht},
		{file: "dt_get_old.txt", seed: ht},
		{file: "dt_delete_old.txt", seed: ht},
		{file: "dt_list_nover.txt", seed: ht},
		{file: "dt_list.txt", seed: allTemplates},
		{file: "dt_list_detail.txt", seed: allTemplates},
		{file: "dt_list_detail_path.txt", seed: allTemplates},
		{file: "dt_list_fields.txt", seed: allTemplates},
		{file: "dt_list_limit.txt", seed: allTemplates},
		{file: "dt_list_marker.txt", seed: allTemplates},
		{file: "dt_list_sort.txt", seed: allTemplates},
		{file: "dt_list_bad_sort.txt", seed: allTemplates},
		{file: "dt_list_bad_sort2.txt", seed: allTemplates},
		{file: "dt_list_bad_field.txt", seed: allTemplates},
		{file: "dt_list_detail_fields.txt", seed: allTemplates},
		{file: "dt_list_bad_marker.txt", seed: allTemplates},
		{file: "dt_get.txt", seed: allTemplates},
		{file: "dt_get_secret.txt", seed: allTemplates},
		{file: "dt_get_by_name.txt", seed: allTemplates},
		{file: "dt_get_fields.txt", seed: allTemplates},
		{file: "dt_get_bad_field.txt", seed: allTemplates},
		{file: "dt_get_404.txt", seed: allTemplates},
		{file: "dt_get_404_uuid.txt", seed: allTemplates},
		{file: "dt_get_bad_ident.txt", seed: allTemplates},
		{file: "dt_patch.txt", seed: seedTemplates(nil, "std", "desc", "raid"), now: []string{"updated_at"}},
		{file: "dt_patch_add_step.txt", seed: seedTemplates(func(t *store.DeployTemplate) {
			patchedTemplate(t)
			t.Steps = json.RawMessage(stepsPatched[:strings.Index(stepsPatched, `,{"interface":"deploy"`)] + "]")
		}), now: []string{"updated_at"}},
		{file: "dt_patch_dup_step.txt", seed: seedTemplates(patchedTemplate)},
		{file: "dt_patch_bad_name.txt", seed: seedTemplates(patchedTemplate)},
		{file: "dt_patch_remove_steps.txt", seed: seedTemplates(patchedTemplate)},
		{file: "dt_patch_bad_step.txt", seed: seedTemplates(patchedTemplate)},
		// Ironic leaves updated_at alone when a patch changes nothing;
		// ferric stamps every update.
		{file: "dt_patch_step_field.txt", seed: seedTemplates(patchedTemplate), now: []string{"updated_at"}},
		{file: "dt_patch_uuid.txt", seed: seedTemplates(patchedTemplate)},
		{file: "dt_patch_dup_name.txt", seed: seedTemplates(patchedTemplate, "raid")},
		{file: "dt_patch_remove_extra.txt", seed: seedTemplates(patchedTemplate), now: []string{"updated_at"}},
		{file: "dt_patch_name.txt", seed: seedTemplates(func(t *store.DeployTemplate) {
			patchedTemplate(t)
			t.Extra = json.RawMessage(`{}`)
		}), now: []string{"updated_at"}},
		{file: "dt_patch_404.txt", seed: ht},
		{file: "dt_patch_description.txt", seed: ht},
		{file: "dt_delete.txt", seed: seedTemplates(nil, "raid"), check: func(t *testing.T, e *testEnv) {
			if _, err := e.st.DeployTemplate(context.Background(), tmplRAIDUUID); err == nil {
				t.Error("template still stored")
			}
		}},
		{file: "dt_delete_again.txt", seed: ht},

		// Deploying with templates.
		{file: "dt_deploy_missing_trait.txt", seed: deployNode(`["CUSTOM_MISSING"]`)},
		{file: "dt_deploy_traits_not_list.txt", seed: deployNode(`"CUSTOM_CORE"`)},
		{file: "dt_deploy_core.txt", seed: deployNode(`["CUSTOM_CORE"]`)},
		{file: "dt_deploy_two.txt", seed: deployNode(`["CUSTOM_CORE","CUSTOM_HYPERTHREADING"]`)},
		{file: "dt_deploy_dup.txt", seed: deployNode(`["CUSTOM_OFF","CUSTOM_OFF2"]`)},
		{file: "dt_deploy_bad_args.txt", seed: deployNode(`["CUSTOM_OFF2"]`)},
		{file: "dt_deploy_user_and_template.txt", seed: deployNode(`["CUSTOM_OFF"]`)},
		{file: "dt_deploy_no_template.txt", seed: deployNode(`["CUSTOM_NONE"]`), check: func(t *testing.T, e *testEnv) {
			got := e.wf.last()
			if in, _ := got.input.(contract.ProvisionInput); got.name != contract.DeployName || in.OperationID != "" {
				t.Errorf("started %q %+v, want a deploy without an operation record", got.name, got.input)
			}
		}},
		{file: "dt_deploy_disable_core.txt", seed: deployNode(`["CUSTOM_OFF"]`), check: wantTemplateDeploy("CUSTOM_OFF")},
		// Ironic 21.4's fake BIOS has no deploy step and skips the
		// template's step; ferric's fake BIOS runs it.
		{file: "dt_deploy_unsupported.txt", seed: deployNode(`["CUSTOM_HYPERTHREADING"]`),
			check: wantTemplateDeploy("CUSTOM_HYPERTHREADING")},

		// RAID.
		{file: "raid_ldp_fake.txt"},
		{file: "raid_ldp_ipmi.txt"},
		{file: "raid_ldp_old.txt"},
		{file: "raid_ldp_nover.txt"},
		{file: "raid_ldp_unknown.txt"},
		// The reference Ironic enables the ipmitool vendor interface;
		// ferric's test registry gives ipmi no-vendor.
		{file: "raid_node_create_agent.txt", now: []string{"created_at"}, ignore: []string{"vendor_interface"}},
		{file: "raid_set_agent_sw.txt", seed: raidNode("agent"), check: wantTargetRAID(raidNodeUUID,
			`{"logical_disks":[{"size_gb":100,"raid_level":"5","is_root_volume":true,"controller":"software",`+
				`"physical_disks":[{"size":"> 100"},{"size":"> 100"}]}]}`)},
		{file: "raid_set_agent.txt", seed: raidNode("agent")},
		{file: "raid_node_after.txt", seed: func(e *testEnv) {
			raidNode("agent")(e)
			n := e.node(raidNodeUUID)
			n.TargetRAIDConfig = json.RawMessage(`{"logical_disks":[{"size_gb":100,"raid_level":"5","is_root_volume":true,` +
				`"disk_type":"hdd","number_of_physical_disks":5}]}`)
			must(e.st.UpdateNode(context.Background(), n))(e.t)
		}},
		{file: "raid_set_noraid.txt", seed: raidNode("no-raid")},
		{file: "raid_set_noraid_empty.txt", seed: raidNode("no-raid")},
		{file: "raid_set_bad_level.txt", seed: raidNode("agent")},
		{file: "raid_set_two_roots.txt", seed: raidNode("agent")},
		{file: "raid_set_missing_size.txt", seed: raidNode("agent")},
		{file: "raid_set_extra.txt", seed: raidNode("agent")},
		{file: "raid_set_no_disks.txt", seed: raidNode("agent")},
		{file: "raid_set_empty_disks.txt", seed: raidNode("agent")},
		{file: "raid_set_pd_no_controller.txt", seed: raidNode("agent")},
		{file: "raid_set_size_neg.txt", seed: raidNode("agent")},
		{file: "raid_set_old.txt", seed: raidNode("agent")},
		{file: "raid_set_list.txt", seed: raidNode("agent")},
		{file: "raid_set_empty.txt", seed: raidNode("agent"), check: wantTargetRAID(raidNodeUUID, `{}`)},
		{file: "raid_set_404.txt"},
		{file: "raid_set_fake.txt", seed: seedNode(nil), check: wantTargetRAID(sampleUUID,
			`{"logical_disks":[{"size_gb":"MAX","raid_level":"1","is_root_volume":true}]}`)},

		// BIOS settings.
		{file: "bios_list_empty.txt", seed: biosNode(false)},
		{file: "bios_list_noop.txt", seed: biosNode(true)},
		{file: "bios_list.txt", seed: biosNode(true)},
		{file: "bios_list_140.txt", seed: biosNode(true)},
		{file: "bios_list_173.txt", seed: biosNode(true)},
		{file: "bios_list_detail.txt", seed: biosNode(true)},
		{file: "bios_list_detail_false.txt", seed: biosNode(true)},
		{file: "bios_list_fields.txt", seed: biosNode(true)},
		{file: "bios_list_fields_old.txt", seed: biosNode(true)},
		{file: "bios_list_detail_old.txt", seed: biosNode(true)},
		{file: "bios_list_detail_fields.txt", seed: biosNode(true)},
		{file: "bios_list_by_name.txt", seed: biosNode(true)},
		{file: "bios_list_node_404.txt", seed: biosNode(true)},
		{file: "bios_get.txt", seed: biosNode(true)},
		{file: "bios_get_int.txt", seed: biosNode(true)},
		{file: "bios_get_140.txt", seed: biosNode(true)},
		{file: "bios_get_404.txt", seed: biosNode(true)},
		{file: "bios_get_fields.txt", seed: biosNode(true)},
		{file: "bios_old.txt", seed: biosNode(true)},
		{file: "bios_get_old.txt", seed: biosNode(true)},
		{file: "bios_node_404.txt", seed: biosNode(true)},
	}
	runGoldens(t, tests)
}
