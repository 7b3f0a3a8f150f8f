package document

import (
	"bytes"
	"encoding/binary"

	"github.com/omsonline/oms/command/cmderr"
)

// pdfTailWindow is how far from its end (blanks and padding aside) a PDF's
// last %%EOF may sit: readers look for it in the last kilobyte.
const pdfTailWindow = 1 << 10

// CheckComplete refuses a scan that stops before its format's end: a PDF
// without %%EOF at its end, a JPEG whose marker structure stops before its
// end-of-image marker, a PNG whose chunks stop before IEND. That is how a
// transfer cut short or a file saved half-way looks, and such a scan
// reaches the reviewer as a blank or torn page weeks later, when the
// applicant could have sent it again at once. What follows a whole image
// (a phone's maker data, a motion photo's video) is left alone.
func CheckComplete(contentType string, b []byte) error {
	ok := true
	switch contentType {
	case TypePDF:
		ok = pdfComplete(b)
	case TypeJPEG:
		ok = jpegComplete(b)
	case TypePNG:
		ok = pngComplete(b)
	}
	if ok {
		return nil
	}
	return errIncomplete(contentType)
}

// pdfComplete: after the padding that some writers leave (blanks, NULs,
// a DOS end-of-file byte, kilobytes of them), %%EOF within the last
// kilobyte, and after it nothing that is PDF syntax: that would be an
// incremental update cut off, or a file cut off right after an earlier
// revision's %%EOF. Other junk there, which readers skip, is let be.
func pdfComplete(b []byte) bool {
	b = bytes.TrimRight(b, " \t\r\n\f\x00\x1a")
	tail := b[max(0, len(b)-pdfTailWindow):]
	i := bytes.LastIndex(tail, []byte("%%EOF"))
	if i < 0 {
		return false
	}
	after := tail[i+len("%%EOF"):]
	for _, kw := range [][]byte{[]byte("obj"), []byte("stream"), []byte("xref"), []byte("trailer")} {
		if bytes.Contains(after, kw) {
			return false
		}
	}
	return true
}

// jpegComplete walks the JPEG's markers from SOI: segments by their
// length, entropy-coded data after each start of scan up to the next
// marker, until the end-of-image marker. Running out of bytes first is a
// cut file. Embedded thumbnails sit inside APP segments and are skipped
// whole, so their own end marker is not taken for the image's.
func jpegComplete(b []byte) bool {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return false
	}
	i := 2
	for i+1 < len(b) {
		if b[i] != 0xFF {
			return false
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte before a marker
			i++
			continue
		case m == 0xD9: // EOI
			return true
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // markers without a length
			i += 2
			continue
		}
		if i+4 > len(b) {
			return false
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
		if m != 0xDA { // not a start of scan: the next marker follows the segment
			continue
		}
		// Entropy-coded data: 0xFF is followed by 0x00 (a stuffed byte)
		// or a restart marker within it; any other marker ends it.
		for i < len(b) {
			j := bytes.IndexByte(b[i:], 0xFF)
			if j < 0 || i+j+1 >= len(b) {
				return false
			}
			i += j
			if n := b[i+1]; n != 0x00 && (n < 0xD0 || n > 0xD7) {
				break
			}
			i += 2
		}
	}
	return false
}

// pngComplete walks the PNG's chunks from the signature to IEND.
func pngComplete(b []byte) bool {
	const sig = 8
	i := sig
	for i+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		end := i + 12 + n // length, type, data, CRC
		if n < 0 || end > len(b) || end < i {
			return false
		}
		if typ == "IEND" {
			return true
		}
		i = end
	}
	return false
}

func errIncomplete(contentType string) error {
	what := cmderr.T("изображения", "the image")
	if contentType == TypePDF {
		what = cmderr.T("PDF", "the PDF")
	}
	return cmderr.New(cmderr.Validation, "file_incomplete", cmderr.T(
		"Файл повреждён или загружен не полностью: в нём нет конца "+what.RU+". Сохраните скан заново и загрузите его ещё раз.",
		"The file is damaged or was not uploaded completely: "+what.EN+" has no end. Save the scan again and upload it once more."))
}
