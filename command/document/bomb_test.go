package document_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/events/schema"
)

func pngOf(w, h int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// pngClaiming is a small PNG whose header claims w×h pixels: its pixel
// data would inflate to w×h bytes.
func pngClaiming(w, h uint32) []byte {
	b := pngOf(1, 1)
	// Signature (8), IHDR length (4), "IHDR" (4), width, height.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// jpegClaiming is a small JPEG whose frame header claims w×h pixels.
func jpegClaiming(w, h uint16) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		panic(err)
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

func pdfWith(body string) []byte {
	return []byte("%PDF-1.7\n" + body + "\n%%EOF\n")
}

func pages(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n", i+3)
	}
	return b.String()
}

// TestBombGuard uploads files that are small on disk but decode to too
// much, and files just within the limits; every refusal names the problem
// in both languages and stores nothing.
func TestBombGuard(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		file []byte
		code string // "" means accepted
	}{
		{"a small PNG", pngOf(64, 48), ""},
		{"a PNG of 50 megapixels", pngClaiming(10000, 5000), ""},
		{"a PNG claiming 100000×100000", pngClaiming(100000, 100000), "image_too_large"},
		{"a PNG claiming 1×60000000", pngClaiming(1, 60_000_000), "image_too_large"},
		{"a JPEG claiming 20000×20000", jpegClaiming(20000, 20000), "image_too_large"},
		{"a JPEG of 8×8", jpegClaiming(8, 8), ""},
		{"a PNG signature and garbage", append(pngOf(1, 1)[:8], "garbage"...), "unreadable_image"},
		{"a JPEG signature and garbage", []byte("\xff\xd8\xff\xe0garbage"), "unreadable_image"},
		{"a PDF of 3 pages", pdfWith("2 0 obj\n<< /Type /Pages /Count 3 /Kids [3 0 R 4 0 R 5 0 R] >>\nendobj\n" + pages(3)), ""},
		{"a PDF of 200 pages", pdfWith("<< /Type /Pages /Count 200 >>\n" + pages(200)), ""},
		{"a PDF of 201 page objects", pdfWith(pages(201)), "pdf_too_complex"},
		{"a page tree claiming a million pages", pdfWith("2 0 obj\n<</Type/Pages/Count 1000000/Kids[3 0 R]>>\nendobj\n" + pages(1)), "pdf_too_complex"},
		{"101 object streams", pdfWith(strings.Repeat("<< /Type /ObjStm /N 5 /First 20 /Length 0 >>\nstream\nendstream\n", 101)), "pdf_too_complex"},
		{"an object stream of a million objects", pdfWith("<< /Type /ObjStm /N 1000000 /First 20 /Length 0 >>\nstream\nendstream\n"), "pdf_too_complex"},
		{"an ICC profile's /N 3 and a function's /N 1.0", pdfWith("<< /N 3 /Length 0 >>\n<< /FunctionType 2 /N 1.0 >>\n"), ""},
	} {
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(c.file)
			if chunked {
				// One byte per read: every token is split somewhere.
				r = iotest.OneByteReader(r)
			}
			doc, err := s.Upload(ctx, owner, schema.DocumentPassport, r)
			switch {
			case c.code == "" && err != nil:
				t.Errorf("%s (chunked %v): refused: %v", c.name, chunked, err)
			case c.code != "":
				e, ok := cmderr.As(err)
				if !ok || e.Code != c.code || e.Message.RU == "" || e.Message.EN == "" {
					t.Errorf("%s (chunked %v): %v %+v, want %s", c.name, chunked, err, doc, c.code)
				} else if w := englishWord.FindString(e.Message.RU); w != "" {
					t.Errorf("%s: the Russian message has %q in English: %s", c.name, w, e.Message.RU)
				}
			}
		}
	}
}

// englishWord finds a lower-case English word; abbreviations such as PDF
// are upper case.
var englishWord = regexp.MustCompile(`\b[a-z]{3,}\b`)

// FuzzPDFGuard: the guard decides the same whether a file arrives in one
// piece or split anywhere, and never panics.
func FuzzPDFGuard(f *testing.F) {
	f.Add([]byte(pages(3)), 7)
	f.Add([]byte("<</Type/Pages/Count 1000000>>"), 13)
	f.Add([]byte("<< /Type /ObjStm /N 99999 >>"), 1)
	f.Add([]byte("/Count 201 /N 10001 "), 5)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		whole := &document.PDFGuard{}
		_, errWhole := whole.Write(data)
		parts := &document.PDFGuard{}
		var errParts error
		step := 1 + (split&0xffff)%97
		for i := 0; i < len(data) && errParts == nil; i += step {
			_, errParts = parts.Write(data[i:min(len(data), i+step)])
		}
		if (errWhole == nil) != (errParts == nil) {
			t.Fatalf("in one piece: %v; in pieces of %d: %v", errWhole, step, errParts)
		}
	})
}

// FuzzCheckImage: any bytes are either accepted with sane dimensions or
// refused with a bilingual refusal, never a panic.
func FuzzCheckImage(f *testing.F) {
	f.Add(pngOf(2, 2))
	f.Add(pngClaiming(100000, 100000))
	f.Add(jpegClaiming(8, 8))
	f.Add([]byte("\xff\xd8\xff"))
	f.Fuzz(func(t *testing.T, head []byte) {
		if err := document.CheckImage(head); err != nil {
			if e, ok := cmderr.As(err); !ok || e.Message.RU == "" || e.Message.EN == "" {
				t.Fatalf("not a refusal: %v", err)
			}
		}
	})
}
