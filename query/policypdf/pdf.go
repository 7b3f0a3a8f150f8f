// Package policypdf renders and serves the printable extract of an ОМС
// policy («выписка о полисе ОМС»): one A4 page with the holder, the ЕНП, the
// term, the issuing body, the policy document's version and a QR code that
// leads to the public check of the policy. The text is set in DejaVu Sans,
// embedded as a subset, so Cyrillic looks the same in every PDF reader.
package policypdf

import (
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/omsonline/oms/command/application"
	"github.com/omsonline/oms/query/countrynames"
)

// The fonts are DejaVu Sans from Debian's fonts-dejavu-core; see
// fonts/README.md for the licence.
var (
	//go:embed fonts/DejaVuSans.ttf
	regularTTF []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	boldTTF []byte
)

// FontName is the font family as it appears in the PDF's font dictionary
// (fpdf prefixes subsets with a tag).
const FontName = "DejaVu"

// Extract is what the page shows.
type Extract struct {
	FullName    string // as in the form: Фамилия Имя Отчество
	LatinName   string
	BirthDate   string // YYYY-MM-DD
	Citizenship string // ISO 3166-1 alpha-3
	ENP         string
	ValidFrom   string // YYYY-MM-DD
	ValidTo     string // YYYY-MM-DD
	Active      bool
	Issuer      string
	Region      string
	DocNumber   string
	DocVersion  int
	DocIssuedAt string // YYYY-MM-DD
	// VerifyURL is encoded into the QR code together with the ЕНП.
	VerifyURL string
	// GeneratedAt stamps the extract; the zero time means now.
	GeneratedAt time.Time
}

var msk = time.FixedZone("MSK", 3*60*60)

// ruDate turns YYYY-MM-DD into the DD.MM.YYYY that Russian documents use;
// anything else is shown as it is rather than dropped.
func ruDate(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return t.Format("02.01.2006")
}

// groupENP writes the 16 digits in fours, as printed on policy cards, so
// that a person reading it out loses their place less often.
func groupENP(enp string) string {
	var b strings.Builder
	for i, r := range enp {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// QRContent is what the QR code encodes: the verification URL, which carries
// the ЕНП, so a phone camera opens the check and a scanner that only wants
// the number finds it in the path.
func QRContent(e Extract) string { return e.VerifyURL }

const (
	pageW  = 210.0
	margin = 18.0
)

// Render writes the extract as a one-page A4 PDF.
func Render(w io.Writer, e Extract) error {
	if e.GeneratedAt.IsZero() {
		e.GeneratedAt = time.Now()
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetAutoPageBreak(false, margin)
	pdf.AddUTF8FontFromBytes(FontName, "", regularTTF)
	pdf.AddUTF8FontFromBytes(FontName, "B", boldTTF)
	pdf.SetTitle("Выписка о полисе ОМС "+e.ENP, true)
	pdf.SetSubject("Выписка о полисе обязательного медицинского страхования", true)
	pdf.SetCreator("ОМС онлайн", true)
	pdf.SetLang("ru-RU")
	pdf.SetCreationDate(e.GeneratedAt)
	pdf.SetModificationDate(e.GeneratedAt)
	pdf.SetMargins(margin, margin, margin)
	pdf.AddPage()

	inner := pageW - 2*margin
	ink := func() { pdf.SetTextColor(20, 20, 20) }
	grey := func() { pdf.SetTextColor(85, 85, 85) }

	// Title.
	ink()
	pdf.SetFont(FontName, "B", 14)
	pdf.MultiCell(inner, 7, "ВЫПИСКА О ПОЛИСЕ ОБЯЗАТЕЛЬНОГО МЕДИЦИНСКОГО СТРАХОВАНИЯ", "", "C", false)
	grey()
	pdf.SetFont(FontName, "", 9)
	pdf.CellFormat(inner, 5, "Extract of the compulsory medical insurance (OMS) policy", "", 1, "C", false, 0, "")
	pdf.Ln(4)
	pdf.SetDrawColor(30, 70, 140)
	pdf.SetLineWidth(0.6)
	pdf.Line(margin, pdf.GetY(), pageW-margin, pdf.GetY())
	pdf.Ln(6)

	// ЕНП and QR side by side.
	const qrSize = 42.0
	top := pdf.GetY()
	grey()
	pdf.SetFont(FontName, "", 9)
	pdf.CellFormat(inner-qrSize-6, 5, "Единый номер полиса (ЕНП) / Policy number", "", 2, "L", false, 0, "")
	ink()
	pdf.SetFont(FontName, "B", 24)
	pdf.CellFormat(inner-qrSize-6, 13, groupENP(e.ENP), "", 2, "L", false, 0, "")
	pdf.SetFont(FontName, "", 11)
	status := "Полис действует / Active"
	if !e.Active {
		status = "Срок действия истёк / Expired"
	}
	pdf.CellFormat(inner-qrSize-6, 7, status, "", 2, "L", false, 0, "")
	pdf.CellFormat(inner-qrSize-6, 7, fmt.Sprintf("Действует с %s по %s включительно", ruDate(e.ValidFrom), ruDate(e.ValidTo)), "", 2, "L", false, 0, "")
	grey()
	pdf.SetFont(FontName, "", 9)
	pdf.CellFormat(inner-qrSize-6, 5, fmt.Sprintf("Valid from %s to %s inclusive", e.ValidFrom, e.ValidTo), "", 2, "L", false, 0, "")
	if err := drawQR(pdf, QRContent(e), pageW-margin-qrSize, top, qrSize); err != nil {
		return err
	}
	pdf.SetXY(margin, max(pdf.GetY(), top+qrSize)+8)

	// The holder and the policy, label in both languages, value in the
	// language of the document it came from.
	rows := []struct{ ru, en, value string }{
		{"Фамилия, имя, отчество", "Full name", e.FullName},
		{"Имя латиницей", "Name in Latin letters", e.LatinName},
		{"Дата рождения", "Date of birth", ruDate(e.BirthDate)},
		{"Гражданство", "Citizenship", citizenshipText(e.Citizenship)},
		{"Страховщик, выдавший полис", "Issuing body", e.Issuer},
		{"Субъект РФ страхования", "Region of insurance", regionText(e.Region)},
		{"Бланк полиса", "Policy document", fmt.Sprintf("№ %s, версия %d / version %d", e.DocNumber, e.DocVersion, e.DocVersion)},
		{"Дата выдачи бланка", "Document issued", ruDate(e.DocIssuedAt)},
	}
	const labelW = 62.0
	pdf.SetDrawColor(200, 200, 200)
	pdf.SetLineWidth(0.2)
	for _, r := range rows {
		if r.value == "" {
			continue
		}
		y := pdf.GetY()
		grey()
		pdf.SetFont(FontName, "", 10)
		pdf.SetXY(margin, y+2)
		pdf.MultiCell(labelW, 5, r.ru, "", "L", false)
		pdf.SetFont(FontName, "", 8)
		pdf.SetX(margin)
		pdf.MultiCell(labelW, 4, r.en, "", "L", false)
		labelBottom := pdf.GetY()
		ink()
		pdf.SetFont(FontName, "B", 11)
		pdf.SetXY(margin+labelW+4, y+2)
		pdf.MultiCell(inner-labelW-4, 6, wrapAtHyphens(pdf, r.value, inner-labelW-4), "", "L", false)
		bottom := max(labelBottom, pdf.GetY()) + 2
		pdf.Line(margin, bottom, pageW-margin, bottom)
		pdf.SetY(bottom)
	}

	// Footer: where to check, and when the extract was made.
	pdf.SetY(250)
	grey()
	pdf.SetFont(FontName, "", 8.5)
	pdf.MultiCell(inner, 4.5, "Проверить полис можно по QR-коду или по адресу / Check the policy with the QR code or at:", "", "L", false)
	ink()
	pdf.MultiCell(inner, 4.5, e.VerifyURL, "", "L", false)
	grey()
	pdf.Ln(2)
	pdf.MultiCell(inner, 4.5, fmt.Sprintf("Выписка сформирована %s (МСК) сервисом «ОМС онлайн». Полис ОМС действует на всей территории Российской Федерации. / Generated %s UTC by «OMS online». The OMS policy is valid throughout the Russian Federation.",
		e.GeneratedAt.In(msk).Format("02.01.2006 15:04"), e.GeneratedAt.UTC().Format("2006-01-02 15:04")), "", "L", false)

	if err := pdf.Error(); err != nil {
		return fmt.Errorf("policypdf: layout: %w", err)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("policypdf: write: %w", err)
	}
	return nil
}

// regionText is the region's code with the subject's name, which a clinic
// reading the extract knows where a bare "77" means little.
func regionText(code string) string {
	if name, ok := application.RegionName(code); ok {
		return code + " — " + name
	}
	return code
}

// citizenshipText names the citizenship in both of the extract's languages
// with its code, since a clinic abroad may read it as well as one here.
func citizenshipText(code string) string {
	ru, en := countrynames.Name(code, "ru"), countrynames.Name(code, "en")
	if ru == "" {
		return code
	}
	return ru + " / " + en + " (" + code + ")"
}

// wrapAtHyphens breaks text into lines no wider than width, in the current
// font, between words and also after a hyphen: fpdf breaks at spaces only,
// and cut a long double-barrelled name in the middle of a word, which on
// an official extract reads as two words. A single word wider than a
// line is still cut, by fpdf, as nothing better exists.
func wrapAtHyphens(pdf *fpdf.Fpdf, text string, width float64) string {
	// fpdf's MultiCell keeps a margin of cMargin on each side.
	width -= 2 * pdf.GetCellMargin()
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		var line string
		for _, word := range strings.Fields(para) {
			for j, part := range hyphenParts(word) {
				sep := ""
				if line != "" && j == 0 {
					sep = " " // between words; a word's parts join as they were
				}
				if line != "" && pdf.GetStringWidth(line+sep+part) > width {
					lines = append(lines, line)
					line, sep = "", ""
				}
				line += sep + part
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// hyphenParts splits a word after each hyphen: "Петров-Водкин" is
// "Петров-" and "Водкин".
func hyphenParts(word string) []string {
	var out []string
	for {
		i := strings.Index(word, "-")
		if i < 0 || i == len(word)-1 {
			return append(out, word)
		}
		out = append(out, word[:i+1])
		word = word[i+1:]
	}
}

// drawQR draws the code as filled squares, so it stays sharp at any zoom
// and adds no image to the file.
func drawQR(pdf *fpdf.Fpdf, content string, x, y, size float64) error {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("policypdf: QR code: %w", err)
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	n := len(bm)
	if n == 0 {
		return fmt.Errorf("policypdf: QR code is empty")
	}
	cell := size / float64(n)
	pdf.SetFillColor(0, 0, 0)
	for r, row := range bm {
		for c, on := range row {
			if on {
				pdf.Rect(x+float64(c)*cell, y+float64(r)*cell, cell+0.01, cell+0.01, "F")
			}
		}
	}
	return nil
}
