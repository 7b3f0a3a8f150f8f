package main

import (
	"strings"
	"testing"
)

func TestRefusalShowsTheProblemsText(t *testing.T) {
	body := []byte(`{"type":"urn:oms:problem:invalid_fields","title":"Ошибки в данных / Invalid fields","status":422,
		"detail":{"ru":"Проверьте и исправьте указанные поля.","en":"Check and correct the fields listed."},"code":"invalid_fields",
		"errors":[{"field":"/basis","code":"not_allowed","message":{"ru":"Допустимые значения: a, b.","en":"Allowed values: a, b."}}]}`)
	err := refusal("POST", "/api/v1/admin/applicants/x/erase", "422 Unprocessable Entity", body)
	got := err.Error()
	for _, want := range []string{"Check and correct the fields listed. (422 Unprocessable Entity, invalid_fields)", "Проверьте и исправьте", "/basis: Allowed values: a, b. / Допустимые значения: a, b."} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if strings.Contains(got, `"type"`) {
		t.Errorf("raw JSON in %q", got)
	}
	// Not a problem document (a proxy's page): shown as it came.
	err = refusal("GET", "/x", "502 Bad Gateway", []byte("<html>bad gateway</html>\n"))
	if err.Error() != "GET /x: 502 Bad Gateway: <html>bad gateway</html>" {
		t.Errorf("%q", err)
	}
}
