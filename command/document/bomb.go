package document

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // registers the JPEG header decoder for CheckImage
	_ "image/png"  // registers the PNG header decoder for CheckImage
	"regexp"
	"strconv"

	"github.com/omsonline/oms/command/cmderr"
)

// Limits on what a scan may decode to. A 10 MB file can still be a bomb:
// a PNG of zeros that inflates to gigabytes of pixels, or a PDF whose page
// tree claims a million pages; either would take down the reviewer's
// viewer, and any server-side thumbnailer added later.
const (
	// MaxPixels bounds width × height of a PNG or JPEG: 50 megapixels is
	// an A4 page scanned at 1200 dpi.
	MaxPixels = 50_000_000
	// MaxPDFPages bounds the pages a PDF may have or claim to have. A
	// passport, a permit and a consent form are a few pages each.
	MaxPDFPages = 200
	// MaxPDFObjectStreams bounds the compressed object streams of a PDF,
	// and MaxPDFObjectsPerStream the objects one of them may declare
	// (its /N): the scan cannot see inside them, so it bounds them instead.
	MaxPDFObjectStreams    = 100
	MaxPDFObjectsPerStream = 10_000
)

// imageHeaderWindow is how much of an image CheckImage gets: the
// dimensions sit in the first bytes of a PNG, and in a JPEG after the
// metadata segments (EXIF, ICC profiles), which are tens of kilobytes.
const imageHeaderWindow = 512 << 10

// bombError carries the refusal of a file that would decode to too much
// through the blob store, which stops the write on it.
type bombError struct{ refusal error }

func (e *bombError) Error() string { return "document: " + e.refusal.Error() }

func errUnreadableImage() error {
	return cmderr.New(cmderr.Unsupported, "unreadable_image", cmderr.T(
		"Изображение повреждено или не читается. Отсканируйте документ заново или сохраните его в PDF.",
		"The image is damaged or unreadable. Scan the document again or save it as a PDF."))
}

func errTooManyPixels(w, h int) error {
	return cmderr.New(cmderr.TooLarge, "image_too_large", cmderr.T(
		fmt.Sprintf("Изображение %d×%d точек — больше %d мегапикселей. Уменьшите разрешение скана.", w, h, MaxPixels/1_000_000),
		fmt.Sprintf("The image is %d×%d pixels, over %d megapixels. Lower the scan's resolution.", w, h, MaxPixels/1_000_000)))
}

// errPDFTooComplex names what is too much in both languages: the
// message is read by a person either way.
func errPDFTooComplex(what cmderr.Text) error {
	return cmderr.New(cmderr.TooLarge, "pdf_too_complex", cmderr.T(
		fmt.Sprintf("PDF слишком сложен для скана документа (%s, допустимо не больше %d страниц). Сохраните скан заново.", what.RU, MaxPDFPages),
		fmt.Sprintf("The PDF is too complex for a document scan (%s; at most %d pages). Save the scan again.", what.EN, MaxPDFPages)))
}

// CheckImage reads a PNG's or JPEG's dimensions from its header, without
// decoding pixels, and refuses an unreadable header or more than MaxPixels.
func CheckImage(head []byte) error {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(head))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return errUnreadableImage()
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return errTooManyPixels(cfg.Width, cfg.Height)
	}
	return nil
}

// PDF tokens the guard counts. Whitespace between a name and its value is
// bounded so that every match fits in the carried tail (see Write).
var (
	rePage   = regexp.MustCompile(`/Type\s{0,8}/Page[^A-Za-z0-9]`)
	reCount  = regexp.MustCompile(`/Count\s{0,8}([0-9]{1,15})[^0-9]`)
	reObjStm = regexp.MustCompile(`/Type\s{0,8}/ObjStm[^A-Za-z0-9]`)
	reN      = regexp.MustCompile(`/N\s{0,8}([0-9]{1,15})[^0-9.]`)
)

// guardTail is how many bytes of one chunk are scanned again with the
// next, so that a token split between two reads is still seen. It is
// longer than the longest match.
const guardTail = 64

// PDFGuard is a cheap, streaming bomb check of a PDF: an io.Writer that
// sees the file as it is stored and fails the write once the file is
// refused. The heuristic, on the raw bytes without parsing:
//
//   - pages: more than MaxPDFPages page objects (/Type /Page), or a page
//     tree node claiming more (/Count n, which viewers trust to allocate);
//   - object streams: more than MaxPDFObjectStreams of them (/Type
//     /ObjStm), or one declaring more than MaxPDFObjectsPerStream objects
//     (/N n). Page objects inside compressed object streams are invisible
//     to the scan, so their number is bounded through these.
//
// It does not inflate streams: a scanner's PDF has few, and their decoded
// size is bounded by the page count and the pixel limits of the images in
// them only when a viewer renders them, which is the reviewer's trusted
// viewer's job. Stray matches inside compressed data are possible but
// rare, and only ever make the check stricter.
type PDFGuard struct {
	tail              []byte
	pages, objStreams int
}

// Write scans p with the tail of the previous call, counting only the
// matches that end in p, so none is counted twice.
func (g *PDFGuard) Write(p []byte) (int, error) {
	buf := p // a whole file in one call is scanned where it is
	if len(g.tail) > 0 {
		buf = append(g.tail, p...)
	}
	from := len(g.tail)
	ends := func(loc []int) bool { return loc[1] > from }
	for _, loc := range rePage.FindAllIndex(buf, -1) {
		if ends(loc) {
			g.pages++
		}
	}
	for _, loc := range reObjStm.FindAllIndex(buf, -1) {
		if ends(loc) {
			g.objStreams++
		}
	}
	if g.pages > MaxPDFPages {
		return 0, &bombError{errPDFTooComplex(cmderr.T(fmt.Sprintf("%d стр.", g.pages), fmt.Sprintf("%d pages", g.pages)))}
	}
	if g.objStreams > MaxPDFObjectStreams {
		return 0, &bombError{errPDFTooComplex(cmderr.T(fmt.Sprintf("потоков объектов: %d", g.objStreams), fmt.Sprintf("%d object streams", g.objStreams)))}
	}
	for _, m := range reCount.FindAllSubmatchIndex(buf, -1) {
		if n, _ := strconv.ParseInt(string(buf[m[2]:m[3]]), 10, 64); ends(m) && n > MaxPDFPages {
			return 0, &bombError{errPDFTooComplex(cmderr.T(fmt.Sprintf("дерево страниц на %d стр.", n), fmt.Sprintf("a page tree of %d pages", n)))}
		}
	}
	for _, m := range reN.FindAllSubmatchIndex(buf, -1) {
		if n, _ := strconv.ParseInt(string(buf[m[2]:m[3]]), 10, 64); ends(m) && n > MaxPDFObjectsPerStream {
			return 0, &bombError{errPDFTooComplex(cmderr.T(fmt.Sprintf("поток из %d объектов", n), fmt.Sprintf("an object stream of %d objects", n)))}
		}
	}
	if len(buf) > guardTail {
		buf = buf[len(buf)-guardTail:]
	}
	g.tail = append(g.tail[:0], buf...)
	return len(p), nil
}
