package web

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// WCAG 2.2 thresholds: 4.5:1 for text (1.4.3), 3:1 for the borders and
// focus rings people need to find a control (1.4.11).
const (
	textContrast = 4.5
	uiContrast   = 3.0
)

func luminance(hex string) (float64, error) {
	hex = strings.TrimPrefix(hex, "#")
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	if len(hex) != 6 {
		return 0, fmt.Errorf("not a #rrggbb colour: %q", hex)
	}
	var ch [3]float64
	for i := range ch {
		v, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			return 0, err
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2], nil
}

func contrast(a, b string) (float64, error) {
	la, err := luminance(a)
	if err != nil {
		return 0, err
	}
	lb, err := luminance(b)
	if err != nil {
		return 0, err
	}
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05), nil
}

func TestContrastFormula(t *testing.T) {
	if c, _ := contrast("#000", "#fff"); math.Abs(c-21) > 0.01 {
		t.Fatalf("black on white: %.2f", c)
	}
	if c, _ := contrast("#767676", "#ffffff"); c < 4.5 || c > 4.6 {
		t.Fatalf("#767676 on white: %.2f, the known AA boundary is 4.54", c)
	}
}

var (
	reRoot  = regexp.MustCompile(`(?s):root\s*\{(.*?)\}`)
	reVar   = regexp.MustCompile(`--([a-z0-9-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\s*;`)
	reRule  = regexp.MustCompile(`(?s)([^{}]+)\{([^{}]*)\}`)
	reUse   = regexp.MustCompile(`var\(--([a-z0-9-]+)\)`)
	reHex   = regexp.MustCompile(`#[0-9a-fA-F]{3,6}\b`)
	reColor = regexp.MustCompile(`(?:^|;)\s*color\s*:\s*([^;]+)`)
	reBg    = regexp.MustCompile(`(?:^|;)\s*background(?:-color)?\s*:\s*([^;]+)`)
	reLine  = regexp.MustCompile(`(?:^|;)\s*(?:border(?:-[a-z]+)*|outline)\s*:\s*([^;]+)`)
)

// TestCSSContrastIsAA reads app.css and checks every colour pair it can
// produce: a rule's text colour on its own background, or on each page
// background when it sets none; and each border or outline colour against
// the backgrounds it is drawn on. Colours outside :root are refused, so no
// pair escapes this test.
func TestCSSContrastIsAA(t *testing.T) {
	raw, err := fs.ReadFile(staticFS, "static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	css := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(raw), "")
	root := reRoot.FindStringSubmatch(css)
	if root == nil {
		t.Fatal("app.css has no :root block")
	}
	vars := map[string]string{}
	for _, m := range reVar.FindAllStringSubmatch(root[1], -1) {
		vars[m[1]] = m[2]
	}
	// The backgrounds text without a background of its own may sit on.
	pageBgs := []string{"bg", "page", "surface"}
	rest := strings.Replace(css, root[0], "", 1)
	if h := reHex.FindString(rest); h != "" {
		t.Fatalf("colour %s is used outside :root; declare it as a custom property", h)
	}
	resolve := func(v string) (string, bool) {
		m := reUse.FindStringSubmatch(v)
		if m == nil {
			return "", false
		}
		_, ok := vars[m[1]]
		if !ok {
			t.Errorf("var(--%s) is not declared", m[1])
		}
		return m[1], ok
	}
	checked := 0
	for _, r := range reRule.FindAllStringSubmatch(rest, -1) {
		sel, decl := strings.TrimSpace(r[1]), r[2]
		var fg, bg string
		if m := reColor.FindStringSubmatch(decl); m != nil {
			fg, _ = resolve(m[1])
		}
		if m := reBg.FindStringSubmatch(decl); m != nil {
			bg, _ = resolve(m[1])
		}
		bgs := pageBgs
		if strings.HasPrefix(sel, ".top ") {
			bgs = []string{"brand-dark"} // drawn inside the header
		}
		if bg != "" {
			bgs = []string{bg}
		}
		if fg != "" {
			for _, b := range bgs {
				c, err := contrast(vars[fg], vars[b])
				if err != nil {
					t.Fatal(err)
				}
				checked++
				if c < textContrast {
					t.Errorf("%s: text --%s on --%s is %.2f:1, below %.1f:1", sel, fg, b, c, textContrast)
				}
			}
		}
		for _, m := range reLine.FindAllStringSubmatch(decl, -1) {
			name, ok := resolve(m[1])
			// Thin decorative rules (--line) separate content; only the
			// lines that mark a control, an error or focus must stand out.
			if !ok || name == "line" || name == bg {
				continue
			}
			for _, b := range bgs {
				c, _ := contrast(vars[name], vars[b])
				checked++
				if c < uiContrast {
					t.Errorf("%s: line --%s on --%s is %.2f:1, below %.1f:1", sel, name, b, c, uiContrast)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d pairs: the CSS scan is broken", checked)
	}
	t.Logf("checked %d colour pairs", checked)
}
