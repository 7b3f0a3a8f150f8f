package piicrypt_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/omsonline/oms/events/benchload"
	"github.com/omsonline/oms/events/piicrypt"
	"github.com/omsonline/oms/events/schema"
)

// BenchmarkSealSubmission seals and opens the payload every submission
// carries: an application form, with the real contract's personal
// sections.
func BenchmarkSealSubmission(b *testing.B) {
	ctx := context.Background()
	_, keys, _ := newSealerKeys(b, bytes.Repeat([]byte{7}, 32))
	s := piicrypt.NewSealer(keys, piicrypt.Personal{Sections: schema.PersonalSections, Clear: schema.PersonalClearKeys})
	ev := benchload.Journey("0196a3c4-7b1e-7f00-8a2b-3c4d5e6f7a8b", "applicant-1", 1, time.Now())[0]
	typ, _, data, err := schema.Encode(ev)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := s.Seal(ctx, "applicant-1", typ, data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Seal(ctx, "applicant-1", typ, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Open(ctx, typ, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}
