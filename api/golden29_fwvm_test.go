package api

import (
	"context"
	"encoding/json"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// fwvmUUID is the node of the fwvm_* captures: the sample node under
// another UUID and name, as created in the Ironic 29 the captures come
// from (storage_interface noop, its default there).
const fwvmUUID = "f1e2d3c4-0001-4a5b-8c7d-000000000f01"

func seedFwvm(mut func(*store.Node)) func(*testEnv) {
	return seedNode(func(n *store.Node) {
		n.UUID, n.Name = fwvmUUID, strp("fwvm-node")
		n.Interfaces.Storage = "noop"
		if mut != nil {
			mut(n)
		}
	})
}

// TestGolden29FirmwareVMedia replays Ironic 29's answers on the firmware
// interface (1.86: the node field, the drivers' firmware interfaces, the
// node's firmware components) and virtual media (1.89 attach and detach,
// 1.93 read), with the version gates and the validation errors.
// Ironic's fake management interface has no virtual media: its conductor
// records the attach's or detach's failure as last_error (the
// *_last_error captures, seeded with contract's message of that failure),
// and a read answers 400 (the worker's answer is given to the fake
// workflow client; workflows' TestVirtualMediaUnsupported shows a
// management interface without virtual media giving it).
func TestGolden29FirmwareVMedia(t *testing.T) {
	t.Parallel()
	seed := seedFwvm(nil)
	unsupported := func(call string) func(*testEnv) {
		return func(e *testEnv) {
			seed(e)
			e.wf.result = func(string, any) (any, error) {
				return nil, temporal.NewNonRetryableApplicationError(
					contract.UnsupportedExtension("fake-hardware", call), contract.ErrTypeUnsupported, nil)
			}
		}
	}
	withLastError := func(msg string) func(*testEnv) {
		return seedFwvm(func(n *store.Node) { n.LastError = &msg })
	}
	runGolden29(t, []goldenCase{
		// 1.86: the firmware interface.
		{file: "fwvm_node_fields_1_86.txt", seed: seed},
		{file: "fwvm_node_fields_1_85.txt", seed: seed},
		{file: "fwvm_firmware_1_86.txt", seed: seed},
		{file: "fwvm_firmware_1_85.txt", seed: seed},
		{file: "fwvm_firmware_name.txt", seed: seed},
		{file: "fwvm_firmware_detail_fields.txt", seed: seed},
		{file: "fwvm_firmware_404.txt"},
		{file: "fwvm_driver_1_86.txt"},
		{file: "fwvm_driver_1_85.txt"},
		{file: "fwvm_patch_firmware_1_85.txt", seed: seed, check: wantFirmwareIface("fake")},
		{file: "fwvm_patch_firmware_bogus.txt", seed: seed, check: wantFirmwareIface("fake")},
		{file: "fwvm_create_firmware_1_85.txt", check: func(t *testing.T, e *testEnv) {
			if n := e.nodeCount(); n != 0 {
				t.Errorf("%d nodes created", n)
			}
		}},
		// 1.89: attach.
		{file: "fwvm_vmedia_post_1_88.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_1_89.txt", seed: seed, check: wantAttach("cdrom",
			`{"device_type":"cdrom","image_url":"https://example.com/boot.iso","image_download_source":"http"}`)},
		{file: "fwvm_vmedia_post_bad_device.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_no_url.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_no_body.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_not_object.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_extra.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_bad_source.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_ftp.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_no_scheme.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_post_404.txt", check: noStart},
		{file: "fwvm_vmedia_post_last_error.txt", seed: withLastError(contract.VMediaAttachError("cdrom", fwvmUUID,
			contract.ImagePublishingUnsupported("fake-hardware")))},
		// 1.89: detach.
		{file: "fwvm_vmedia_delete_1_88.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_delete_1_89.txt", seed: seed, check: wantDetach(nil)},
		{file: "fwvm_vmedia_delete_types.txt", seed: seed, check: wantDetach([]string{"cdrom", "floppy"})},
		{file: "fwvm_vmedia_delete_bad_type.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_delete_unexpected.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_delete_404.txt", check: noStart},
		{file: "fwvm_vmedia_delete_last_error.txt", seed: withLastError(contract.VMediaDetachError(nil, fwvmUUID,
			contract.UnsupportedExtension("fake-hardware", "detach_virtual_media")))},
		{file: "fwvm_vmedia_delete_types_last_error.txt", seed: withLastError(contract.VMediaDetachError(
			[]string{"cdrom", "floppy"}, fwvmUUID, contract.UnsupportedExtension("fake-hardware", "detach_virtual_media")))},
		// 1.93: read.
		{file: "fwvm_vmedia_get_1_88.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_get_1_92.txt", seed: seed, check: noStart},
		{file: "fwvm_vmedia_get_1_93.txt", seed: unsupported("get_virtual_media"), check: wantGetVMedia},
		{file: "fwvm_vmedia_get_404.txt", check: noStart},
	})
}

// wantFirmwareIface checks the stored firmware_interface of the fwvm node.
func wantFirmwareIface(want string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		t.Helper()
		if got := e.node(fwvmUUID).Interfaces.Firmware; got != want {
			t.Errorf("firmware_interface = %q, want %q", got, want)
		}
	}
}

// wantAttach checks that an attach of dev started virtual-media on the
// node lock, its arguments in an operation record (not in the input).
func wantAttach(dev, args string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		t.Helper()
		got := e.wf.last()
		in, _ := got.input.(contract.VirtualMediaInput)
		if got.name != contract.VirtualMediaName || got.opts.ID != contract.WorkflowID(fwvmUUID) ||
			in.Action != contract.VMediaAttach || len(in.DeviceTypes) != 1 || in.DeviceTypes[0] != dev {
			t.Fatalf("started %q %+v id %s", got.name, got.input, got.opts.ID)
		}
		op, err := e.st.Operation(context.Background(), in.OperationID)
		if err != nil {
			t.Fatal(err)
		}
		var have, want any
		if json.Unmarshal(op.Args, &have) != nil || json.Unmarshal([]byte(args), &want) != nil ||
			string(must(json.Marshal(have))(t)) != string(must(json.Marshal(want))(t)) {
			t.Errorf("operation args = %s, want %s", op.Args, args)
		}
	}
}

// wantDetach checks that a detach of devs (nil: all) started virtual-media
// on the node lock.
func wantDetach(devs []string) func(t *testing.T, e *testEnv) {
	return func(t *testing.T, e *testEnv) {
		t.Helper()
		got := e.wf.last()
		in, _ := got.input.(contract.VirtualMediaInput)
		if got.name != contract.VirtualMediaName || got.opts.ID != contract.WorkflowID(fwvmUUID) ||
			in.Action != contract.VMediaDetach || (in.DeviceTypes == nil) != (devs == nil) ||
			string(must(json.Marshal(in.DeviceTypes))(t)) != string(must(json.Marshal(devs))(t)) {
			t.Errorf("started %q %+v id %s, want a detach of %v", got.name, got.input, got.opts.ID, devs)
		}
	}
}

// wantGetVMedia checks that a read ran virtual-media on the node lock (as
// Ironic's conductor takes it).
func wantGetVMedia(t *testing.T, e *testEnv) {
	t.Helper()
	got := e.wf.last()
	in, _ := got.input.(contract.VirtualMediaInput)
	if got.name != contract.VirtualMediaName || got.opts.ID != contract.WorkflowID(fwvmUUID) ||
		in.Action != contract.VMediaGet {
		t.Errorf("started %q %+v id %s, want a read", got.name, got.input, got.opts.ID)
	}
}
