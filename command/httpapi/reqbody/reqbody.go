// Package reqbody reads request bodies that arrive as a stream (Fiber's
// StreamRequestBody). The server then holds no body in memory before the
// caller is known and allowed to send it, and no more of it than the route
// takes: a 10 MB upload from someone not signed in costs the server the
// bandwidth it arrives with, not 10 MB of memory.
//
// Load reads a body into memory under a bound, after which c.Body(),
// FormValue and MultipartForm read it there as without streaming; Reader
// hands it to a handler that reads it as it arrives; Guard, first on every
// route, refuses a body declared too long or not declared at all, and
// reads away what nobody read. Anything else that reads a body still in
// the stream (c.Body(), FormValue) reads all of it: check IsBodyStream.
package reqbody

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gofiber/fiber/v2"
)

// Load makes the request's body at most max bytes in memory, reading it
// from its stream if it is still one. It reports false, leaving the rest
// unread, when the body is longer.
func Load(c *fiber.Ctx, max int) (bool, error) {
	req := c.Request()
	if !req.IsBodyStream() {
		return len(req.Body()) <= max, nil
	}
	if req.Header.ContentLength() > max {
		return false, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.BodyStream(), int64(max)+1))
	if err != nil {
		return false, fmt.Errorf("reqbody: read: %w", err)
	}
	if len(buf) > max {
		return false, nil
	}
	// Ends the stream too: from here the body is these bytes.
	req.SetBodyRaw(buf)
	return true, nil
}

// ErrTooLarge is what a Reader returns once the body goes past its bound.
var ErrTooLarge = errors.New("reqbody: body larger than allowed")

// Reader returns the body to read as it arrives, failing with ErrTooLarge
// past max bytes. A body already in memory is read from there.
func Reader(c *fiber.Ctx, max int) io.Reader {
	req := c.Request()
	if !req.IsBodyStream() {
		return &bounded{r: bytes.NewReader(req.Body()), left: int64(max)}
	}
	return &bounded{r: req.BodyStream(), left: int64(max)}
}

// bounded reads r until left runs out, then fails if r has more.
type bounded struct {
	r    io.Reader
	left int64
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// ErrNoLength is a body sent without a declared length (chunked).
var ErrNoLength = errors.New("reqbody: body without a declared length")

// Guard goes ahead of every route. A body declared longer than limit, or
// sent without a declared length, is refused with refuse (why is
// ErrTooLarge or ErrNoLength) before anything reads it: a chunked body has
// no length to check against, and fasthttp reads one without any bound
// for whoever asks for the body (review QA: 1 GB from one anonymous
// request). Browsers and the usual clients declare the length of what
// they send. After the handlers, what of a body nobody read is read and
// dropped, up to limit, so that a client still sending gets the answer (a
// refusal of its token, say) rather than a reset connection, and the
// connection stays in step for its next request; a longer body closes the
// connection.
func Guard(limit int, refuse func(c *fiber.Ctx, why error) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch n := c.Request().Header.ContentLength(); {
		case n > limit:
			c.Response().Header.SetConnectionClose()
			return refuse(c, ErrTooLarge)
		case n == -1:
			c.Response().Header.SetConnectionClose()
			return refuse(c, ErrNoLength)
		}
		err := c.Next()
		if req := c.Request(); req.IsBodyStream() {
			n, rerr := io.Copy(io.Discard, io.LimitReader(req.BodyStream(), int64(limit)+1))
			if rerr != nil || n > int64(limit) {
				c.Response().Header.SetConnectionClose()
			}
		}
		return err
	}
}
