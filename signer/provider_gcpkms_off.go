//go:build nogcpkms

package signer

import (
	"context"
	"fmt"
)

func openGCPKMS(context.Context, string, Options) (Signer, error) {
	return nil, fmt.Errorf("%w: gcpkms (built with tag nogcpkms)", ErrCompiledOut)
}
