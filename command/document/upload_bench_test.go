package document_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/omsonline/oms/events/schema"
)

// BenchmarkUpload stores 200 KB PDF scans through the whole upload path
// (type check, PDF guard, sealing, blob file, event), four at a time as
// under load, and reports the bytes each allocates: garbage collections
// under a load with uploads scale with it.
func BenchmarkUpload(b *testing.B) {
	s := newStores(b).node(b, 0)
	scan := append(append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("0123456789abcdef\n"), 200<<10/17)...), "%%EOF\n"...)
	ctx := context.Background()
	b.SetParallelism(2) // GOMAXPROCS × 2 goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Upload(ctx, owner, schema.DocumentPassport, bytes.NewReader(scan)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
