package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// refusal turns omsd's answer to a failed call into the error omsctl
// prints: the problem document's text in both languages, its code and
// each field error, rather than the raw JSON; anything that is not a
// problem document is shown as it came.
func refusal(method, path, status string, body []byte) error {
	var p struct {
		Code   string `json:"code"`
		Detail struct {
			RU string `json:"ru"`
			EN string `json:"en"`
		} `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message struct {
				RU string `json:"ru"`
				EN string `json:"en"`
			} `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &p) != nil || p.Code == "" || (p.Detail.RU == "" && p.Detail.EN == "") {
		return fmt.Errorf("%s %s: %s: %s", method, path, status, bytes.TrimSpace(body))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %s)", p.Detail.EN, status, p.Code)
	if p.Detail.RU != "" {
		fmt.Fprintf(&b, "\n  %s", p.Detail.RU)
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "\n  %s: %s / %s", e.Field, e.Message.EN, e.Message.RU)
	}
	return fmt.Errorf("%s", b.String())
}
