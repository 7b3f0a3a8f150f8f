package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startDebug serves net/http/pprof on OMS_DEBUG_ADDR, apart from the API:
// profiles reveal memory contents and cost CPU, so they are off unless
// asked for and on loopback unless a host is named. The handlers go on a
// mux of their own rather than http.DefaultServeMux, which any imported
// package could add to.
func startDebug(a *App) error {
	if a.cfg.DebugAddr == "" {
		return nil
	}
	lis, err := net.Listen("tcp", a.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("app: debug listener on %s: %w", a.cfg.DebugAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// WriteTimeout stays off: a CPU profile or trace streams for as long
	// as its ?seconds= asks.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("debug listener stopped", "err", err)
		}
	}()
	a.http.Hooks().OnShutdown(func() error { return srv.Close() })
	addr := lis.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() {
		a.log.Warn("pprof debug listener is reachable from other hosts", "addr", addr.String())
	} else {
		a.log.Info("pprof debug listener on", "url", "http://"+addr.String()+"/debug/pprof/")
	}
	a.debugAddr = addr.String()
	return nil
}

// DebugAddr is where the pprof listener listens ("" when off).
func (a *App) DebugAddr() string { return a.debugAddr }
