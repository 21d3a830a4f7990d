// Package gateway is the a1 authorization gateway: a stateless HTTP service
// (POST /v1/authorize and friends) whose state lives behind small storage
// interfaces (embedded bbolt, PostgreSQL or Redis).
package gateway
