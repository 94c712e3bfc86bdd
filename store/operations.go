package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Operation is what a provisioning request gave beyond its verb, kept for
// the workflow that runs it (which only carries the ID).
type Operation struct {
	ID       string
	NodeUUID string
	Verb     string
	// ConfigDrive is the request's configdrive as given: a JSON string (a
	// URL, or a base64 gzipped ISO image) or object (meta_data, user_data,
	// network_data, vendor_data). nil when none was given.
	ConfigDrive json.RawMessage
	// CleanSteps and DeploySteps are JSON arrays of Ironic steps, or nil.
	CleanSteps  json.RawMessage
	DeploySteps json.RawMessage
	// ServiceSteps is the JSON array of a service request's steps, or nil.
	ServiceSteps json.RawMessage
	// TemplateSteps are the deploy steps of the deploy templates the
	// request matched (a JSON array, or nil), and TemplateNames those
	// templates' names.
	TemplateSteps json.RawMessage
	TemplateNames []string
	// Args are the arguments of a request that is not a provisioning verb
	// (a virtual media attach: device_type, image_url,
	// image_download_source), a JSON object, or nil.
	Args      json.RawMessage
	CreatedAt time.Time
}

// keepOperations is how many records a node keeps.
const keepOperations = 5

// CreateOperation stores op (a new ID is generated) and drops the node's
// records beyond the latest few, in one statement. ErrNotFound when the node
// does not exist.
func (q Queries) CreateOperation(ctx context.Context, op Operation) (Operation, error) {
	nodeID, err := uuid.Parse(op.NodeUUID)
	if err != nil {
		return Operation{}, fmt.Errorf("create operation for node %q: %w", op.NodeUUID, ErrNotFound)
	}
	op.ID = uuid.NewString()
	err = q.db.QueryRow(ctx, `WITH n AS (SELECT id FROM nodes WHERE uuid = $2::uuid),
		ins AS (
			INSERT INTO node_operations (id, node_id, verb, config_drive, clean_steps, deploy_steps,
				template_steps, template_names, args, service_steps)
			SELECT $1::uuid, n.id, $3::text, $4::jsonb, $5::jsonb, $6::jsonb, $8::json, $9::text[], $10::jsonb, $11::jsonb FROM n
			RETURNING node_id, created_at),
		old AS (
			DELETE FROM node_operations o USING ins
			WHERE o.node_id = ins.node_id AND o.id IN (
				SELECT id FROM node_operations WHERE node_id = ins.node_id
				ORDER BY created_at DESC, id OFFSET $7::int - 1))
		SELECT created_at FROM ins`,
		op.ID, nodeID.String(), op.Verb, optRaw(op.ConfigDrive), optRaw(op.CleanSteps), optRaw(op.DeploySteps),
		keepOperations, optRaw(op.TemplateSteps), op.TemplateNames, optRaw(op.Args), optRaw(op.ServiceSteps)).Scan(&op.CreatedAt)
	if err != nil {
		return Operation{}, fmt.Errorf("create operation for node %s: %w", op.NodeUUID, translate(err, ErrNotFound))
	}
	return op, nil
}

// Operation returns an operation record by ID. ErrNotFound when there is
// none (never created, pruned, or its node deleted).
func (q Queries) Operation(ctx context.Context, id string) (Operation, error) {
	opID, err := uuid.Parse(id)
	if err != nil {
		return Operation{}, fmt.Errorf("get operation %q: %w", id, ErrNotFound)
	}
	var (
		op                                           Operation
		cd, clean, deploys, templates, args, service []byte
	)
	err = q.db.QueryRow(ctx, `SELECT o.id::text, n.uuid::text, o.verb, o.config_drive, o.clean_steps,
			o.deploy_steps, o.template_steps, o.template_names, o.args, o.created_at, o.service_steps
		FROM node_operations o JOIN nodes n ON n.id = o.node_id WHERE o.id = $1::uuid`, opID.String()).
		Scan(&op.ID, &op.NodeUUID, &op.Verb, &cd, &clean, &deploys, &templates, &op.TemplateNames, &args,
			&op.CreatedAt, &service)
	if err != nil {
		return Operation{}, fmt.Errorf("get operation %s: %w", id, translate(err, ErrNotFound))
	}
	op.ConfigDrive, op.CleanSteps, op.DeploySteps, op.TemplateSteps = cd, clean, deploys, templates
	op.Args, op.ServiceSteps = args, service
	return op, nil
}

// DeleteOperation deletes an operation record (its workflow never started).
// Deleting a missing record is not an error.
func (q Queries) DeleteOperation(ctx context.Context, id string) error {
	opID, err := uuid.Parse(id)
	if err != nil {
		return nil
	}
	if _, err := q.db.Exec(ctx, `DELETE FROM node_operations WHERE id = $1::uuid`, opID.String()); err != nil {
		return fmt.Errorf("delete operation %s: %w", id, err)
	}
	return nil
}

// optRaw is a JSON value as a parameter: SQL NULL when absent.
func optRaw(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// LatestConfigDrive returns the config drive of the node's latest operation
// record that has one (a rebuild without a new config drive writes the one
// the node was deployed with, as Ironic keeps it in instance_info), or nil.
func (q Queries) LatestConfigDrive(ctx context.Context, nodeUUID string) (json.RawMessage, error) {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return nil, fmt.Errorf("latest config drive of node %q: %w", nodeUUID, ErrNotFound)
	}
	var cd []byte
	err = q.db.QueryRow(ctx, `SELECT o.config_drive FROM node_operations o JOIN nodes n ON n.id = o.node_id
		WHERE n.uuid = $1::uuid AND o.config_drive IS NOT NULL ORDER BY o.created_at DESC LIMIT 1`, id.String()).Scan(&cd)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("latest config drive of node %s: %w", nodeUUID, err)
	}
	return cd, nil
}
