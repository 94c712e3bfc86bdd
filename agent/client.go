package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
)

// apiClient speaks the agent protocol (agent/wire) to ferric's API.
type apiClient struct {
	base string // "http://10.0.2.2:6385", no trailing slash
	hc   *http.Client
}

// lookup finds this machine's node by its MAC addresses. A 404 is
// ErrNotFound (the API does not expect an agent here now).
func (c *apiClient) lookup(ctx context.Context, macs []string) (*wire.LookupResponse, error) {
	u := c.base + "/v1/lookup?addresses=" + url.QueryEscape(strings.Join(macs, ","))
	var lr wire.LookupResponse
	if err := c.do(ctx, http.MethodGet, u, "", nil, &lr); err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	if lr.Node.UUID == "" {
		return nil, fmt.Errorf("lookup: answer has no node uuid")
	}
	return &lr, nil
}

// heartbeat posts hb and returns the commands to run. A 401 is
// ErrUnauthorized.
func (c *apiClient) heartbeat(ctx context.Context, node string, hb *wire.Heartbeat) (*wire.HeartbeatResponse, error) {
	body, err := json.Marshal(hb)
	if err != nil {
		return nil, fmt.Errorf("heartbeat: encode: %w", err)
	}
	var hr wire.HeartbeatResponse
	u := c.base + "/v1/heartbeat/" + url.PathEscape(node)
	if err := c.do(ctx, http.MethodPost, u, hb.AgentToken, body, &hr); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return &hr, nil
}

// inspectionPayload is doc as ironic-python-agent posts it: the inventory
// under "inventory" and the plugin data's members beside it (the API puts
// every member but the inventory into plugin_data).
func inspectionPayload(doc inventory.Document) ([]byte, error) {
	inv, err := json.Marshal(doc.Inventory)
	if err != nil {
		return nil, fmt.Errorf("encode inventory: %w", err)
	}
	pd, err := json.Marshal(doc.PluginData)
	if err != nil {
		return nil, fmt.Errorf("encode plugin data: %w", err)
	}
	b := append([]byte(`{"inventory":`), inv...)
	if rest := bytes.TrimSpace(pd); len(rest) > 2 && rest[0] == '{' {
		b = append(append(b, ','), rest[1:]...)
		return b, nil
	}
	return append(b, '}'), nil
}

// continueInspection posts an inspection payload (inspectionPayload) to
// POST /v1/continue_inspection, the endpoint ironic-python-agent posts to.
// The agent has looked its node up already: it names it (node_uuid, API
// 1.84), so the node is found whatever MACs the inventory reports.
func (c *apiClient) continueInspection(ctx context.Context, nodeUUID string, body []byte) error {
	u := c.base + "/v1/continue_inspection?node_uuid=" + url.QueryEscape(nodeUUID)
	var out json.RawMessage
	if err := c.doWith(ctx, http.MethodPost, u, "", body, &out, map[string]string{
		"X-OpenStack-Ironic-API-Version": "1.84"}); err != nil {
		return fmt.Errorf("continue inspection: %w", err)
	}
	return nil
}

func (c *apiClient) do(ctx context.Context, method, u, token string, body []byte, out any) error {
	return c.doWith(ctx, method, u, token, body, out, nil)
}

func (c *apiClient) doWith(ctx context.Context, method, u, token string, body []byte, out any, headers map[string]string) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set(wire.TokenHeader, token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrNotFound, statusError(u, resp.StatusCode, b))
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w", ErrUnauthorized, statusError(u, resp.StatusCode, b))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return statusError(u, resp.StatusCode, b)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil // 202/204 without a body: nothing to do
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

func statusError(u string, code int, body []byte) error {
	b := bytes.TrimSpace(body)
	if len(b) > 256 {
		b = b[:256]
	}
	return &StatusError{URL: u, Code: code, Body: string(b)}
}
