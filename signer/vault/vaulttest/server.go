package vaulttest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/sdk/logical"
)

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// Server serves a real transit backend at /v1/<Mount>/..., authorising
// requests with one static token (X-Vault-Token). It implements only what a
// transit client needs: no sys/ or auth/ endpoints.
type Server struct {
	Mount   string
	Token   string
	Backend logical.Backend
	Storage logical.Storage
}

// NewServer makes a transit backend on in-memory storage.
func NewServer(ctx context.Context, mount, token string) (*Server, error) {
	conf := logical.TestBackendConfig()
	conf.StorageView = &logical.InmemStorage{}
	b, err := transit.Factory(ctx, conf)
	if err != nil {
		return nil, fmt.Errorf("transit backend: %w", err)
	}
	return &Server{Mount: mount, Token: token, Backend: b, Storage: conf.StorageView}, nil
}

// Request runs one logical request against the backend (test setup: create
// or rotate keys).
func (s *Server) Request(ctx context.Context, op logical.Operation, path string, data map[string]any) (*logical.Response, error) {
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: s.Storage}
	resp, err := s.Backend.HandleRequest(ctx, req)
	if err == nil && resp != nil && resp.IsError() {
		err = resp.Error()
	}
	return resp, err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, map[string]any{"errors": msgs})
}

// ServeHTTP translates an HTTP request into a logical.Request, as Vault's
// HTTP layer does for a logical path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Vault-Token")), []byte(s.Token)) != 1 {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/"+s.Mount+"/")
	if !ok {
		writeErrors(w, http.StatusNotFound, "no handler for route")
		return
	}
	var op logical.Operation
	var data map[string]any
	switch r.Method {
	case http.MethodGet:
		op = logical.ReadOperation
	case http.MethodPost, http.MethodPut:
		op = logical.UpdateOperation
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody))
		if err != nil {
			writeErrors(w, http.StatusBadRequest, "read body")
			return
		}
		if len(body) > 0 {
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.UseNumber()
			if err := dec.Decode(&data); err != nil {
				writeErrors(w, http.StatusBadRequest, "malformed JSON")
				return
			}
		}
	case http.MethodDelete:
		op = logical.DeleteOperation
	default:
		writeErrors(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: s.Storage}
	if op == logical.UpdateOperation {
		// Vault's router turns an update into a create when the path has
		// an existence check that says the entry does not exist yet.
		if checkFound, exists, err := s.Backend.HandleExistenceCheck(r.Context(), req); err == nil && checkFound && !exists {
			req.Operation = logical.CreateOperation
		}
	}
	resp, err := s.Backend.HandleRequest(r.Context(), req)
	if status, rerr := logical.RespondErrorCommon(req, resp, err); rerr != nil {
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeErrors(w, status, rerr.Error())
		return
	}
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": resp.Data, "warnings": resp.Warnings})
}
