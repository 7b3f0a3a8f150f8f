// Package pdfcheck looks into a PDF just far enough for tests to assert what
// a reader of the policy extract relies on: the page count and size, the
// embedded fonts and, through poppler's pdftotext, the text.
package pdfcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Info is what Inspect found.
type Info struct {
	Pages int
	// MediaBoxes are the page sizes in points, [llx lly urx ury].
	MediaBoxes [][4]float64
	// Fonts are the BaseFont names (subset tags included).
	Fonts []string
	// EmbeddedFontFiles counts /FontFile, /FontFile2 and /FontFile3 streams.
	EmbeddedFontFiles int
}

var (
	rePage     = regexp.MustCompile(`/Type\s*/Page[^s]`)
	reMediaBox = regexp.MustCompile(`/MediaBox\s*\[\s*([-0-9.]+)\s+([-0-9.]+)\s+([-0-9.]+)\s+([-0-9.]+)\s*\]`)
	reBaseFont = regexp.MustCompile(`/BaseFont\s*/([A-Za-z0-9+_\-]+)`)
	reFontFile = regexp.MustCompile(`/FontFile[23]?\s+\d+\s+\d+\s+R`)
)

// Inspect reads the object dictionaries of pdf, which writers such as fpdf
// leave uncompressed (only streams are deflated).
func Inspect(pdf []byte) (Info, error) {
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return Info{}, errors.New("pdfcheck: not a PDF (no %PDF- header)")
	}
	if !bytes.Contains(pdf[max(0, len(pdf)-1024):], []byte("%%EOF")) {
		return Info{}, errors.New("pdfcheck: truncated PDF (no %%EOF)")
	}
	var in Info
	in.Pages = len(rePage.FindAll(pdf, -1))
	for _, m := range reMediaBox.FindAllSubmatch(pdf, -1) {
		var box [4]float64
		for i := range box {
			v, err := strconv.ParseFloat(string(m[i+1]), 64)
			if err != nil {
				return Info{}, fmt.Errorf("pdfcheck: MediaBox: %w", err)
			}
			box[i] = v
		}
		in.MediaBoxes = append(in.MediaBoxes, box)
	}
	seen := map[string]bool{}
	for _, m := range reBaseFont.FindAllSubmatch(pdf, -1) {
		if n := string(m[1]); !seen[n] {
			seen[n] = true
			in.Fonts = append(in.Fonts, n)
		}
	}
	in.EmbeddedFontFiles = len(reFontFile.FindAll(pdf, -1))
	return in, nil
}

// IsA4 reports whether a MediaBox is A4 (595.28 × 841.89 pt), portrait.
func IsA4(box [4]float64) bool {
	w, h := box[2]-box[0], box[3]-box[1]
	return abs(w-595.28) < 1 && abs(h-841.89) < 1
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// ErrNoPdftotext means poppler-utils is not installed.
var ErrNoPdftotext = errors.New("pdfcheck: pdftotext (poppler-utils) is not installed")

// Text extracts the text of pdf with pdftotext.
func Text(pdf []byte) (string, error) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		return "", ErrNoPdftotext
	}
	cmd := exec.Command(bin, "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pdfcheck: pdftotext: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// MustHaveTools reports whether a test that needs pdftotext should fail
// (in CI, where .ci/run installs it) rather than skip.
func MustHaveTools() bool { return os.Getenv("CI") != "" }
