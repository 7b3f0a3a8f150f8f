package document

import (
	"bytes"

	"github.com/omsonline/oms/command/cmderr"
)

// How far from the end each format's end marker may sit. PDF readers look
// for %%EOF in the last kilobyte, and only blanks may follow it; image
// files may carry a little padding or a trailer after their last marker,
// which is harmless.
const (
	pdfTailWindow   = 1 << 10
	imageTailWindow = 4 << 10
)

var (
	pdfEnd  = []byte("%%EOF")
	jpegEnd = []byte{0xFF, 0xD9}
	pngEnd  = []byte("IEND")
)

// CheckComplete refuses a scan that stops before its format's end marker:
// a PDF without %%EOF, a JPEG without its end-of-image marker, a PNG
// without its IEND chunk. That is how a transfer cut short or a file
// saved half-way looks, and such a scan reaches the reviewer as a blank
// or torn page weeks later, when the applicant could have sent it again
// at once.
func CheckComplete(contentType string, b []byte) error {
	var end []byte
	window := imageTailWindow
	switch contentType {
	case TypePDF:
		end, window = pdfEnd, pdfTailWindow
	case TypeJPEG:
		end = jpegEnd
	case TypePNG:
		end = pngEnd
	default:
		return nil
	}
	tail := b[max(0, len(b)-window):]
	if contentType == TypePDF {
		// A PDF ends with its last %%EOF: what follows may only be line
		// ends and blanks. Anything else is an update cut off after an
		// earlier %%EOF, or a file cut off right after one.
		i := bytes.LastIndex(tail, end)
		if i >= 0 && len(bytes.Trim(tail[i+len(end):], " \t\r\n\f\x00")) == 0 {
			return nil
		}
		return errIncomplete(contentType)
	}
	if bytes.Contains(tail, end) {
		return nil
	}
	return errIncomplete(contentType)
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
