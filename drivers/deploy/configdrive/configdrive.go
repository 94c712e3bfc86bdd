// Package configdrive builds OpenStack config drives as Ironic does: an ISO
// 9660 image labelled "config-2" (Rock Ridge names) holding
// openstack/{2012-08-10,latest}/meta_data.json, user_data, network_data.json
// and vendor_data2.json, gzipped and base64-encoded (the form Ironic's agent
// writes to a partition and cloud-init reads).
package configdrive

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Label is the volume label cloud-init looks for.
const Label = "config-2"

// MaxSize is the largest image Ironic's agent writes (its partition size).
const MaxSize = 64 << 20

// versions are the metadata versions written, as openstacksdk's builder.
var versions = []string{"2012-08-10", "latest"}

// ErrInvalid: the config drive document cannot be built.
var ErrInvalid = errors.New("configdrive: invalid config drive")

// Spec is Ironic's JSON form of a config drive (API 1.56, 1.59).
type Spec struct {
	MetaData    map[string]any  `json:"meta_data"`
	UserData    json.RawMessage `json:"user_data"`
	NetworkData json.RawMessage `json:"network_data"`
	VendorData  json.RawMessage `json:"vendor_data"`
}

// Node is what Build fills meta_data's defaults from.
type Node struct {
	UUID string
	Name string
}

// Build makes the config drive of the JSON document raw for node n and
// returns it gzipped and base64-encoded. meta_data's uuid and name default
// to the node's, as in Ironic; user_data is written as given when it is a
// string, as JSON otherwise. tmpDir holds the staging files ("" = the
// system's temporary folder).
func Build(raw json.RawMessage, n Node, tmpDir string) (string, error) {
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if s.MetaData == nil {
		s.MetaData = map[string]any{}
	}
	if _, ok := s.MetaData["uuid"]; !ok {
		s.MetaData["uuid"] = n.UUID
	}
	if _, ok := s.MetaData["name"]; !ok && n.Name != "" {
		s.MetaData["name"] = n.Name
	}
	meta, err := json.Marshal(s.MetaData)
	if err != nil {
		return "", fmt.Errorf("%w: meta_data: %w", ErrInvalid, err)
	}
	files := map[string][]byte{"meta_data.json": meta}
	if ud := userData(s.UserData); ud != nil {
		files["user_data"] = ud
	}
	if present(s.NetworkData) {
		files["network_data.json"] = s.NetworkData
	}
	if present(s.VendorData) {
		files["vendor_data2.json"] = s.VendorData
	}
	iso, err := pack(files, tmpDir)
	if err != nil {
		return "", err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(iso); err != nil {
		return "", fmt.Errorf("configdrive: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("configdrive: gzip: %w", err)
	}
	return base64.StdEncoding.EncodeToString(gz.Bytes()), nil
}

func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// userData is the user_data file: a JSON string's text, any other JSON
// value as JSON, nothing for null or "".
func userData(raw json.RawMessage) []byte {
	if !present(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	return raw
}

// pack writes files under openstack/<version>/ into an ISO 9660 image.
func pack(files map[string][]byte, tmpDir string) ([]byte, error) {
	dir, err := os.MkdirTemp(tmpDir, "configdrive-")
	if err != nil {
		return nil, fmt.Errorf("configdrive: staging folder: %w", err)
	}
	defer os.RemoveAll(dir)
	total := int64(0)
	for _, b := range files {
		total += int64(len(b))
	}
	// Room for the descriptors, the directories and each file twice
	// (one copy per version), block-rounded.
	size := int64(1<<20) + int64(len(versions))*(total+int64(len(files))*2048)
	if size > MaxSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrInvalid, MaxSize>>20)
	}
	img := filepath.Join(dir, "configdrive.iso")
	be, err := file.CreateFromPath(img, size)
	if err != nil {
		return nil, fmt.Errorf("configdrive: create image: %w", err)
	}
	defer be.Close()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		return nil, fmt.Errorf("configdrive: workspace: %w", err)
	}
	fs, err := iso9660.Create(be, size, 0, 2048, work)
	if err != nil {
		return nil, fmt.Errorf("configdrive: create filesystem: %w", err)
	}
	for _, v := range versions {
		d := path.Join("/openstack", v)
		if err := fs.Mkdir(d); err != nil {
			return nil, fmt.Errorf("configdrive: mkdir %s: %w", d, err)
		}
		for name, data := range files {
			f, err := fs.OpenFile(path.Join(d, name), os.O_CREATE|os.O_RDWR)
			if err != nil {
				return nil, fmt.Errorf("configdrive: create %s: %w", name, err)
			}
			if _, err := f.Write(data); err != nil {
				f.Close()
				return nil, fmt.Errorf("configdrive: write %s: %w", name, err)
			}
			if err := f.Close(); err != nil {
				return nil, fmt.Errorf("configdrive: close %s: %w", name, err)
			}
		}
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: Label}); err != nil {
		return nil, fmt.Errorf("configdrive: finalize: %w", err)
	}
	out, err := os.ReadFile(img)
	if err != nil {
		return nil, fmt.Errorf("configdrive: read image: %w", err)
	}
	return out, nil
}
