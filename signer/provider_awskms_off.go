//go:build noawskms

package signer

import (
	"context"
	"fmt"
)

func openAWSKMS(context.Context, string, Options) (Signer, error) {
	return nil, fmt.Errorf("%w: awskms (built with tag noawskms)", ErrCompiledOut)
}
