// Package deploytest checks the deployment files in deploy/ with the parsers
// that will read them in production, since no container engine or cluster
// runs where the tests do:
//
//   - deploy/k8s/a1-gateway.yaml is decoded strictly (unknown and duplicate
//     fields are errors) into k8s.io/api types, then the probes, security
//     context, resources, selectors, replica count and shutdown budget are
//     checked, and the environment the pod receives is passed to
//     gateway.LoadConfig;
//   - deploy/docker-compose.yml is loaded with the Compose loader
//     (compose-go), with the secrets of deploy/.env.example set, and the
//     gateway services and their interpolated environment are checked;
//   - deploy/Dockerfile is parsed, and ./cmd/a1 is built exactly as its RUN
//     line builds it, checked to be statically linked, and started with the
//     image's ENTRYPOINT, CMD, ENV and numeric USER as a stand-in for
//     `docker run`.
//
// The package is a separate module so that the Kubernetes and Compose
// libraries stay out of the main module's dependencies. It has no
// non-test code.
package deploytest
