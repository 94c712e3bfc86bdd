package ipmi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ferric-project/ferric/drivers"
)

// Vendor method names, as in Ironic's ipmitool vendor interface.
const (
	MethodSendRaw  = "send_raw"
	MethodBMCReset = "bmc_reset"
)

// VendorMethods lists the ipmitool vendor passthru methods.
func (n *Node) VendorMethods() map[string]drivers.VendorMethod {
	return map[string]drivers.VendorMethod{
		MethodSendRaw: {HTTPMethods: []string{"POST"}, Async: false, RequireExclusiveLock: true,
			Description: `Send raw bytes to the BMC. Arguments: "netfn" and "command" (integers, or strings ` +
				`such as "0x06"), and "data" (a list of bytes or a string such as "0x01 0x02"); or Ironic's ` +
				`"raw_bytes", a string of netfn, command and data bytes (e.g. "0x06 0x01"). Returns ` +
				`{"completion_code": int, "data": [bytes]}; a non-zero completion code is a reply, not an error.`},
		MethodBMCReset: {HTTPMethods: []string{"POST"}, Async: true, RequireExclusiveLock: true,
			Description: `Reset BMC with IPMI command 'bmc reset (warm|cold)'. Optional argument: "warm" - ` +
				`set to True (default) to do a warm reset, or False to do a cold reset.`},
	}
}

// RawReply is send_raw's answer.
type RawReply struct {
	CompletionCode int   `json:"completion_code"`
	Data           []int `json:"data"`
}

// CallVendor runs a vendor passthru method. Malformed arguments wrap
// drivers.ErrBadConfig; unknown methods drivers.ErrUnsupported.
func (n *Node) CallVendor(ctx context.Context, method string, args json.RawMessage) (json.RawMessage, error) {
	switch method {
	case MethodSendRaw:
		netfn, cmd, data, err := parseRawArgs(args)
		if err != nil {
			return nil, fmt.Errorf("ipmi %s: %s: %w: %w", n.info.HostPort(), method, drivers.ErrBadConfig, err)
		}
		reply, err := n.SendRaw(ctx, netfn, cmd, data)
		if err != nil {
			return nil, err
		}
		return json.Marshal(reply)
	case MethodBMCReset:
		warm, err := parseResetArgs(args)
		if err != nil {
			return nil, fmt.Errorf("ipmi %s: %s: %w: %w", n.info.HostPort(), method, drivers.ErrBadConfig, err)
		}
		return nil, n.ResetBMC(ctx, warm)
	}
	return nil, fmt.Errorf("ipmi %s: %w: vendor method %q", n.info.HostPort(), drivers.ErrUnsupported, method)
}

// SendRaw sends one raw request. A completion code other than 0 comes back
// in the reply. Raw requests are not resent on a fresh session after a lost
// reply: they may not be idempotent.
func (n *Node) SendRaw(ctx context.Context, netfn, cmd uint8, data []byte) (RawReply, error) {
	reply := RawReply{Data: []int{}}
	err := n.do(ctx, fmt.Sprintf("raw netfn %#02x command %#02x", netfn, cmd), false,
		func(ctx context.Context, x *exchanger) error {
			return x.call(ctx, func(c *client.Client) error {
				res, err := c.RawCommand(ctx, types.NetFn(netfn), cmd, data, "raw")
				if err != nil {
					return err
				}
				for _, b := range res.Response {
					reply.Data = append(reply.Data, int(b))
				}
				return nil
			})
		})
	if err != nil {
		if re, ok := types.IsResponseError(err); ok && re.CompletionCode() != 0 {
			return RawReply{CompletionCode: int(re.CompletionCode()), Data: []int{}}, nil
		}
		return RawReply{}, err
	}
	return reply, nil
}

// ResetBMC sends BMC Warm Reset or Cold Reset (App 03h/02h). The cached
// session is dropped, since the reset ends it.
func (n *Node) ResetBMC(ctx context.Context, warm bool) error {
	op := "bmc reset cold"
	if warm {
		op = "bmc reset warm"
	}
	return n.do(ctx, op, false, func(ctx context.Context, x *exchanger) error {
		x.reset = true
		return x.call(ctx, func(c *client.Client) error {
			if warm {
				return c.WarmReset(ctx)
			}
			return c.ColdReset(ctx)
		})
	})
}

type rawArgs struct {
	RawBytes *string         `json:"raw_bytes"`
	NetFn    json.RawMessage `json:"netfn"`
	Command  json.RawMessage `json:"command"`
	Data     json.RawMessage `json:"data"`
}

func parseRawArgs(args json.RawMessage) (netfn, cmd uint8, data []byte, err error) {
	var a rawArgs
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if len(bytes.TrimSpace(args)) == 0 || dec.Decode(&a) != nil {
		return 0, 0, nil, bad(`arguments must be an object with "netfn", "command" and "data", or "raw_bytes"`)
	}
	if a.RawBytes != nil {
		if a.NetFn != nil || a.Command != nil || a.Data != nil {
			return 0, 0, nil, bad(`give either "raw_bytes" or "netfn", "command" and "data", not both`)
		}
		all, err := hexBytes(*a.RawBytes)
		if err != nil {
			return 0, 0, nil, bad("raw_bytes: " + err.Error())
		}
		if len(all) < 2 {
			return 0, 0, nil, bad("raw_bytes must hold at least a netfn and a command byte")
		}
		netfn, cmd, data = all[0], all[1], all[2:]
	} else {
		if a.NetFn == nil || a.Command == nil {
			return 0, 0, nil, bad(`"netfn" and "command" are required`)
		}
		if netfn, err = byteArg(a.NetFn); err != nil {
			return 0, 0, nil, bad("netfn: " + err.Error())
		}
		if cmd, err = byteArg(a.Command); err != nil {
			return 0, 0, nil, bad("command: " + err.Error())
		}
		if data, err = dataArg(a.Data); err != nil {
			return 0, 0, nil, bad("data: " + err.Error())
		}
	}
	if netfn > 0x3f || netfn%2 != 0 {
		return 0, 0, nil, bad(fmt.Sprintf("netfn %#02x must be an even (request) network function up to 0x3e", netfn))
	}
	if len(data) > 200 {
		return 0, 0, nil, bad("data must be at most 200 bytes")
	}
	return netfn, cmd, data, nil
}

// byteArg reads 0..255 from a JSON number or a string ("0x06", "6").
func byteArg(raw json.RawMessage) (uint8, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(bytes.TrimSpace(raw))
	}
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 8)
	if err != nil {
		return 0, fmt.Errorf("must be a byte (0-255 or 0x00-0xff), got %s", raw)
	}
	return uint8(v), nil
}

// dataArg reads a list of bytes or a string of hex bytes; absent is empty.
func dataArg(raw json.RawMessage) ([]byte, error) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return hexBytes(s)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("must be a list of bytes or a string such as \"0x01 0x02\"")
	}
	out := make([]byte, 0, len(list))
	for i, v := range list {
		b, err := byteArg(v)
		if err != nil {
			return nil, fmt.Errorf("item %d %w", i, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// hexBytes parses "0x06 0x01 0x0a" (ipmitool raw syntax; "0x" optional,
// commas allowed).
func hexBytes(s string) ([]byte, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	out := make([]byte, 0, len(fields))
	for _, f := range fields {
		f = strings.TrimPrefix(strings.TrimPrefix(f, "0x"), "0X")
		v, err := strconv.ParseUint(f, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("%q is not a hex byte", f)
		}
		out = append(out, byte(v))
	}
	return out, nil
}

func parseResetArgs(args json.RawMessage) (bool, error) {
	if len(bytes.TrimSpace(args)) == 0 || isNull(args) {
		return true, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(args, &m) != nil {
		return false, bad(`arguments must be an object such as {"warm": false}`)
	}
	for k := range m {
		if k != "warm" {
			return false, bad(fmt.Sprintf("unknown argument %q (only \"warm\")", k))
		}
	}
	warm, ok, err := boolean(m, "warm")
	if err != nil {
		return false, err
	}
	if !ok {
		return true, nil
	}
	return warm, nil
}
