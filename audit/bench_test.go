package audit

import (
	"context"
	"testing"

	"github.com/a1-go/a1/internal/cputime"
)

type discard struct{}

func (discard) Send(context.Context, []Entry) error { return nil }

func BenchmarkEmit(b *testing.B) {
	sink := NewAsync(discard{}, AsyncOptions{QueueSize: 1 << 16})
	e, _ := NewEmitter(Config{Sinks: []Sink{sink}, GatewayID: "gw"})
	ev := sample(1)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for range b.N {
		e.Emit(ev)
	}
	b.StopTimer()
	_ = e.Close(context.Background())
	cputime.Report(b, cpu) // includes the delivery goroutine's work
}

func BenchmarkEmitParallel(b *testing.B) {
	sink := NewAsync(discard{}, AsyncOptions{QueueSize: 1 << 16})
	e, _ := NewEmitter(Config{Sinks: []Sink{sink}, GatewayID: "gw"})
	ev := sample(1)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Emit(ev)
		}
	})
	b.StopTimer()
	_ = e.Close(context.Background())
	cputime.Report(b, cpu)
}

func BenchmarkVerify(b *testing.B) {
	c := &collect{}
	e, _ := NewEmitter(Config{Sinks: []Sink{c}})
	for i := range 1000 {
		e.Emit(sample(i))
	}
	data := c.ndjson()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if rep, _ := Verify(bytesReader(data), VerifyOptions{}); !rep.OK {
			b.Fatal(rep)
		}
	}
}
