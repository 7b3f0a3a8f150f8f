package document_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/omsonline/oms/command/cmderr"
	"github.com/omsonline/oms/command/document"
	"github.com/omsonline/oms/events/schema"
)

func jpegOf(t *testing.T, w, h int) []byte {
	t.Helper()
	// Noise, so that the compressed pixels, not the header, are most of
	// the file, as in a scan.
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7919 % 251)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A scan cut short (a dropped connection, a file saved half-way) is
// refused at upload, in both languages, while whole files pass, trailing
// padding included.
func TestIncompleteScansAreRefused(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	pdf := "%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
	jpg, png := jpegOf(t, 320, 240), pngOf(64, 48)
	whole := map[string][]byte{
		"PDF":                                    []byte(pdf),
		"PDF with trailing blanks":               []byte(pdf + "\r\n  \n"),
		"PDF with an update appended":            []byte(pdf + "2 0 obj\n<< >>\nendobj\n%%EOF"),
		"JPEG":                                   jpg,
		"JPEG with padding":                      append(bytes.Clone(jpg), make([]byte, 100)...),
		"JPEG with 64 KB of maker data after it": append(bytes.Clone(jpg), bytes.Repeat([]byte("MOTION"), 11000)...),
		"PNG":                                    png,
		"PNG with a trailer":                     append(bytes.Clone(png), bytes.Repeat([]byte("x"), 5000)...),
		"PDF with 80 KB of NUL padding":          append([]byte(pdf), make([]byte, 80<<10)...),
		"PDF with a DOS end-of-file byte":        []byte(pdf + "\x1a"),
		"PDF with a gateway's comment after it":  []byte(pdf + "<!-- gw -->\n"),
	}
	for name, b := range whole {
		if _, err := s.Upload(ctx, owner, schema.DocumentPassport, bytes.NewReader(b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	cut := map[string][]byte{
		"PDF cut before %%EOF":                                    []byte(pdf[:len(pdf)-7]),
		"PDF ending in another 2 KB":                              []byte(pdf + strings.Repeat("x", 2048)),
		"PDF cut after an early %%EOF":                            []byte("%PDF-1.4\n%%EOF\n1 0 obj << /Type"),
		"PDF update cut off":                                      []byte(pdf + "2 0 obj\n<< /Type /Pa"),
		"JPEG without its last 2 bytes":                           jpg[:len(jpg)-2],
		"JPEG cut in half":                                        jpg[:len(jpg)/2],
		"PNG without its IEND chunk":                              png[:len(png)-12],
		"PNG cut in its data":                                     png[:len(png)/2],
		"JPEG cut inside its scan, padded with its own end bytes": append(bytes.Clone(jpg[:len(jpg)/2]), 0x00, 0x00),
	}
	for name, b := range cut {
		_, err := s.Upload(ctx, owner, schema.DocumentPassport, bytes.NewReader(b))
		ce, ok := cmderr.As(err)
		if !ok || ce.Code != "file_incomplete" || ce.Kind != cmderr.Validation {
			t.Errorf("%s: %v, want a file_incomplete refusal", name, err)
			continue
		}
		if !strings.Contains(ce.Message.RU, "не полностью") || !strings.Contains(ce.Message.EN, "not uploaded completely") {
			t.Errorf("%s: message %+v", name, ce.Message)
		}
	}
}

// A JPEG's embedded thumbnail (inside its APP1 segment) ends with an
// end-of-image marker of its own, which is not the image's: cut after the
// thumbnail, the photo is still refused.
func TestJPEGThumbnailsEndIsNotTheImagesEnd(t *testing.T) {
	main, thumb := jpegOf(t, 320, 240), jpegOf(t, 16, 16)
	payload := append([]byte("Exif\x00\x00"), thumb...)
	app1 := append([]byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	whole := append(append(append([]byte{}, main[:2]...), app1...), main[2:]...)
	if err := document.CheckComplete(document.TypeJPEG, whole); err != nil {
		t.Fatalf("the whole photo with a thumbnail: %v", err)
	}
	cut := whole[:len(app1)+2+(len(main)-2)/2]
	if err := document.CheckComplete(document.TypeJPEG, cut); err == nil {
		t.Fatal("a photo cut after its thumbnail was taken as whole")
	}
}

// BenchmarkCheckCompleteJPEG walks a large photo's markers: an upload's
// cost, paid once per scan.
func BenchmarkCheckCompleteJPEG(b *testing.B) {
	img := image.NewGray(image.Rect(0, 0, 3000, 2000))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7919 % 251)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	photo := buf.Bytes()
	b.SetBytes(int64(len(photo)))
	for b.Loop() {
		if err := document.CheckComplete(document.TypeJPEG, photo); err != nil {
			b.Fatal(err)
		}
	}
}
