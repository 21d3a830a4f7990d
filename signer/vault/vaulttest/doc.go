// Package vaulttest runs the signer contract suite, through the official
// Vault client, against HashiCorp Vault's real transit secrets engine
// (builtin/logical/transit) served in-process over HTTP. It is a separate,
// test-only Go module so that Vault's large dependency tree stays out of the
// main module.
//
// OpenBao's engine would be the first choice (an OpenBao-compatible server is
// what many deployments run), but its module is not served by the module
// proxy this project builds with; the transit HTTP API used here (keys/NAME,
// sign/NAME, verify/NAME) is the same in both.
package vaulttest
