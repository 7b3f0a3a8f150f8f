package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/omsonline/oms/command/httpapi"
	"github.com/omsonline/oms/projections/readstore"
)

// A read-model store that does not answer is a 503 with Retry-After that
// says to repeat the request, in both languages, not a 500.
func TestReadStoreOutageIs503(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: httpapi.ErrorHandler, DisableStartupMessage: true})
	app.Get("/x", func(*fiber.Ctx) error {
		return fmt.Errorf("query: cabinet: %w", fmt.Errorf("%w: server selection timeout", readstore.ErrUnavailable))
	})
	res, err := app.Test(httptest.NewRequest("GET", "/x", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	var p httpapi.Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || p.Code != "read_store_unavailable" || p.Detail.RU == "" || p.Detail.EN == "" {
		t.Fatalf("%d Retry-After %q %+v", res.StatusCode, res.Header.Get("Retry-After"), p)
	}
}
