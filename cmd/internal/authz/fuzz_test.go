package authz_test

import (
	"errors"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/omsonline/oms/cmd/internal/authz"
)

// FuzzLookupAgreesWithFiber: for any method and request target, the row the
// middleware enforces is the route Fiber then runs, and a request Fiber
// routes nowhere matches no row. A disagreement would let a request be
// judged by one row and served by another route.
func FuzzLookupAgreesWithFiber(f *testing.F) {
	table := authz.Table()
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"}
	type verdict struct {
		row authz.Route
		ok  bool
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) error {
		row, ok := authz.Lookup(table, c.Method(), c.Path())
		c.Locals("verdict", verdict{row, ok})
		err := c.Next()
		var fe *fiber.Error
		if errors.As(err, &fe) && fe.Code == fiber.StatusNotFound && ok {
			return c.Status(599).SendString("the matrix has " + row.Key() + ", Fiber has no route")
		}
		return err
	})
	for _, r := range table {
		handler := func(c *fiber.Ctx) error {
			v := c.Locals("verdict").(verdict)
			if !v.ok || v.row.Path != c.Route().Path {
				return c.Status(599).SendString("Fiber runs " + c.Route().Path + ", the matrix enforced " + v.row.Key())
			}
			return c.SendStatus(200)
		}
		if r.Method == fiber.MethodGet {
			app.Get(r.Path, handler) // and HEAD, as omsd's routes are
		} else {
			app.Add(r.Method, r.Path, handler)
		}
	}
	h := app.Handler()
	for _, p := range []string{"/api/v1/applications/x/claim", "/API/v1/cabinet/", "/static/a/b", "/static", "/api/v1/applications//history",
		"/api/v1/applications/%2e%2e/history", "/cabinet/../api/v1/cabinet", "//api/v1/cabinet", "/api/v1/applications/x;y/state", "/verify/1?doc=1", "*"} {
		f.Add(uint8(0), p)
		f.Add(uint8(1), p)
		f.Add(uint8(2), p)
	}
	f.Fuzz(func(t *testing.T, m uint8, target string) {
		var rc fasthttp.RequestCtx
		var req fasthttp.Request
		req.Header.SetMethod(methods[int(m)%len(methods)])
		req.SetRequestURI(target)
		rc.Init(&req, nil, nil)
		h(&rc)
		if rc.Response.StatusCode() == 599 {
			t.Fatalf("%s %q (path %q): %s", req.Header.Method(), target, rc.Path(), rc.Response.Body())
		}
	})
}
