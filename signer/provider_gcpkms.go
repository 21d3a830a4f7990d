//go:build !nogcpkms

package signer

import (
	"context"

	"github.com/a1-go/a1/signer/gcpkms"
)

func openGCPKMS(ctx context.Context, rest string, o Options) (Signer, error) {
	s, err := gcpkms.Open(ctx, rest, gcpkms.Config{Timeout: o.Timeout, MaxAttempts: o.MaxAttempts})
	if err != nil {
		return nil, err
	}
	return s, nil
}
