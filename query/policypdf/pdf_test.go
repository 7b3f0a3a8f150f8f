package policypdf_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/omsonline/oms/query/policypdf"
	"github.com/omsonline/oms/query/policypdf/pdfcheck"
)

func sample() policypdf.Extract {
	return policypdf.Extract{
		FullName: "Каримов Бахтиёр Рустамович", LatinName: "KARIMOV BAKHTIYOR", BirthDate: "1990-04-12", Citizenship: "UZB",
		ENP: "1234567890123452", ValidFrom: "2026-03-10", ValidTo: "2027-03-09", Active: true,
		Issuer: policypdf.DefaultIssuer, Region: "77", DocNumber: "1234567890123452-02", DocVersion: 2, DocIssuedAt: "2026-05-01",
		VerifyURL:   policypdf.VerifyURL("https://oms.example", "1234567890123452", "1234567890123452-02", policypdf.VerifyCode([]byte("k"), "1234567890123452", "1234567890123452-02")),
		GeneratedAt: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC),
	}
}

// checkExtract asserts what every reader of an extract relies on.
func checkExtract(t *testing.T, pdf []byte, wantText ...string) {
	t.Helper()
	in, err := pdfcheck.Inspect(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if in.Pages != 1 || len(in.MediaBoxes) == 0 || !pdfcheck.IsA4(in.MediaBoxes[0]) {
		t.Fatalf("want one A4 page: %+v", in)
	}
	if in.EmbeddedFontFiles == 0 || !strings.Contains(strings.ToLower(strings.Join(in.Fonts, ",")), "dejavu") {
		t.Fatalf("DejaVu is not embedded: %+v", in)
	}
	text, err := pdfcheck.Text(pdf)
	if errors.Is(err, pdfcheck.ErrNoPdftotext) && !pdfcheck.MustHaveTools() {
		t.Skip("pdftotext is not installed (apt-get install poppler-utils); CI installs it")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wantText {
		if !strings.Contains(text, w) {
			t.Errorf("the extract lacks %q:\n%s", w, text)
		}
	}
}

func TestRenderOneA4PageWithCyrillic(t *testing.T) {
	var buf bytes.Buffer
	if err := policypdf.Render(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 200<<10 {
		t.Errorf("the extract is %d KB: the font should be subset", buf.Len()>>10)
	}
	checkExtract(t, buf.Bytes(), "1234 5678 9012 3452", "Каримов Бахтиёр Рустамович", "12.04.1990", "Узбекистан / Uzbekistan (UZB)", "77 — Москва",
		"09.03.2027", "1234567890123452-02", "ВЫПИСКА О ПОЛИСЕ", "https://oms.example/verify/1234567890123452",
		"valid throughout the Russian Federation")
}

func TestQRContentCarriesTheNumber(t *testing.T) {
	e := sample()
	if got := policypdf.QRContent(e); !strings.Contains(got, e.ENP) || !strings.HasPrefix(got, "https://oms.example/verify/") {
		t.Fatalf("QR content %q", got)
	}
}

// A long double-barrelled name breaks after a hyphen or between words,
// never inside a word: cut mid-word it read as two words.
func TestLongNamesBreakAtHyphens(t *testing.T) {
	e := sample()
	e.FullName = "Константинопольский-Петропавловский-Всеволожский Александр Рустамович"
	e.LatinName = "KONSTANTINOPOLSKIY-PETROPAVLOVSKIY-VSEVOLOZHSKIY ALEKSANDR"
	var buf bytes.Buffer
	if err := policypdf.Render(&buf, e); err != nil {
		t.Fatal(err)
	}
	checkExtract(t, buf.Bytes(), "Всеволожский", "Константинопольский-", "VSEVOLOZHSKIY", "KONSTANTINOPOLSKIY-")
}

// A citizenship with a long name wraps within its cell and keeps its code.
func TestLongCountryNameWraps(t *testing.T) {
	e := sample()
	e.Citizenship = "COD"
	var buf bytes.Buffer
	if err := policypdf.Render(&buf, e); err != nil {
		t.Fatal(err)
	}
	checkExtract(t, buf.Bytes(), "Демократическая Республика Конго", "Congo (COD)")
}
