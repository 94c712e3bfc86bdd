package agent

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers classify with errors.Is.
var (
	// ErrNotFound: the API does not expect an agent on this machine now
	// (lookup answered 404).
	ErrNotFound = errors.New("agent: node not found by lookup")
	// ErrUnauthorized: the API rejected the agent token (401).
	ErrUnauthorized = errors.New("agent: agent token rejected")
	// ErrChecksumMismatch: the downloaded image does not match its checksum.
	ErrChecksumMismatch = errors.New("agent: image checksum mismatch")
	// ErrBadChecksum: the command's checksum cannot be used (unknown
	// algorithm, not hex, wrong length).
	ErrBadChecksum = errors.New("agent: invalid image checksum")
	// ErrTruncated: the image stream ended early (connection closed, fewer
	// bytes than Content-Length, truncated compressed stream).
	ErrTruncated = errors.New("agent: image stream truncated")
	// ErrStalled: the image server sent nothing for the stall timeout.
	ErrStalled = errors.New("agent: image download stalled")
	// ErrNoSpace: the image does not fit on the device.
	ErrNoSpace = errors.New("agent: no space left on device")
	// ErrUnsupportedFormat: the image format is unknown or not supported.
	ErrUnsupportedFormat = errors.New("agent: unsupported image format")
	// ErrNoDevice: no target device was given and none was discovered.
	ErrNoDevice = errors.New("agent: no disk to write to")
	// ErrUnknownCommand: the API sent a command this agent does not know.
	ErrUnknownCommand = errors.New("agent: unknown command")
)

// StatusError is an unexpected HTTP status from the API or the image server.
type StatusError struct {
	URL  string
	Code int
	Body string // first bytes of the body, for the log
}

func (e *StatusError) Error() string {
	if e.Body != "" {
		return fmt.Sprintf("%s: HTTP %d: %s", e.URL, e.Code, e.Body)
	}
	return fmt.Sprintf("%s: HTTP %d", e.URL, e.Code)
}
