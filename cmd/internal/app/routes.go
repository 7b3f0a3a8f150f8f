package app

import "github.com/gofiber/fiber/v2"

// Routes lists the routes registered in Fiber (middleware excluded), for
// the check that the OpenAPI document describes exactly these.
func (a *App) Routes() []fiber.Route { return a.http.GetRoutes(true) }
