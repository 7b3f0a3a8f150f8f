package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A token omsctl signs is signed again before it runs out, so that a long
// rebuild's polling is not refused half-way (ops QA: one token for the
// whole run, good for 10 minutes); one given in OMS_TOKEN is used as is.
func TestOmsctlSignsAnotherTokenBeforeItRunsOut(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	signed := 0
	c := &apiClient{base: srv.URL, http: srv.Client(), resign: func() (string, error) {
		signed++
		return fmt.Sprintf("tok-%d", signed), nil
	}}
	for range 2 {
		if err := c.do("GET", "/x", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.expires = time.Now().Add(30 * time.Second) // near its end
	if err := c.do("GET", "/x", nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-2"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("tokens sent %q, want %q", seen, want)
	}
	given := &apiClient{base: srv.URL, token: "from-env", http: srv.Client()}
	given.expires = time.Now() // a given token's end is not omsctl's to know
	if err := given.do("GET", "/x", nil, nil); err != nil || seen[len(seen)-1] != "Bearer from-env" {
		t.Fatalf("a given token: %q %v", seen[len(seen)-1], err)
	}
}
