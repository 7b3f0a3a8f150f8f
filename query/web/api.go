package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// Problem is the part of an API problem document a page shows.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail struct {
		RU string `json:"ru"`
		EN string `json:"en"`
	} `json:"detail"`
	// Errors are a refused command's field errors.
	Errors []struct {
		Field   string `json:"field"`
		Message struct {
			RU string `json:"ru"`
			EN string `json:"en"`
		} `json:"message"`
	} `json:"errors"`
}

// apiError is a non-2xx answer of the API.
type apiError struct {
	Status  int
	Problem Problem
}

func (e *apiError) Error() string {
	return fmt.Sprintf("web: API answered %d %s", e.Status, e.Problem.Code)
}

// isStatus reports whether err is the API's answer with status.
func isStatus(err error, status int) bool {
	e, ok := err.(*apiError)
	return ok && e.Status == status
}

// isCode reports whether err is the API's refusal with code.
func isCode(err error, code string) bool {
	e, ok := err.(*apiError)
	return ok && e.Problem.Code == code
}

// get reads path from the query API as the page's caller into v.
func (h *handlers) get(c *fiber.Ctx, path string, v any) error {
	s := session(c)
	res, err := h.d.API.Do(c.UserContext(), APIRequest{Method: fiber.MethodGet, Path: path, Token: s.Token, OnBehalfOf: onBehalfOf(c, s)})
	if err != nil {
		return fmt.Errorf("web: GET %s: %w", path, err)
	}
	if res.Status != fiber.StatusOK {
		e := &apiError{Status: res.Status}
		_ = json.Unmarshal(res.Body, &e.Problem)
		return e
	}
	if err := json.Unmarshal(res.Body, v); err != nil {
		return fmt.Errorf("web: decode %s: %w", path, err)
	}
	return nil
}

// onBehalfOf is the applicant an operator works for on this request,
// named in the page URL (?applicant=).
func onBehalfOf(c *fiber.Ctx, s Session) string {
	if s.Role != roleOperator {
		return ""
	}
	return c.Query("applicant")
}

// withAfter carries the page's ?after=<position> (set by the script after
// a command) to the API, so the page shows the write it just made.
func withAfter(c *fiber.Ctx, path string, extra url.Values) string {
	q := url.Values{}
	for k, vs := range extra {
		for _, v := range vs {
			if v != "" {
				q.Add(k, v)
			}
		}
	}
	if a := c.Query("after"); a != "" {
		if _, err := strconv.ParseUint(a, 10, 64); err == nil {
			q.Set("after", a)
		}
	}
	if enc := q.Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

// apiFailure shows a failed API read as an error page in the reader's
// language.
func (h *handlers) apiFailure(c *fiber.Ctx, err error) error {
	if e, ok := err.(*apiError); ok {
		l := h.lang(c)
		msg := l.Pick(e.Problem.Detail.RU, e.Problem.Detail.EN)
		if msg == "" {
			msg = l.T("error.generic")
		}
		p := h.page(c, "error.title", ErrorData{Status: e.Status, Message: msg})
		return h.render(c, e.Status, "error", p)
	}
	h.d.Logger.ErrorContext(c.UserContext(), "page failed", "path", c.Path(), "err", err)
	return h.errorPage(c, fiber.StatusInternalServerError, "error.generic")
}
