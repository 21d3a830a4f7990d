// Package ndjson provides the NDJSON audit sinks: one line per sealed event
// to an io.Writer (stdout by default) or to a file with size-based rotation
// and periodic fsync. Both are asynchronous [audit.Async] sinks; the files
// they write are checked with audit.VerifyFiles.
package ndjson
