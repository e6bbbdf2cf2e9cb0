// The entrypoint of a function image: an HTTP server on 127.0.0.1:8082 that
// of-watchdog (http mode) forwards to, serving the function's Handle.
package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	function "@FUNCTION_MODULE@"
)

func main() {
	readTimeout := envDuration("read_timeout", 10*time.Second)
	writeTimeout := envDuration("write_timeout", 10*time.Second)
	healthInterval := envDuration("healthcheck_interval", writeTimeout)

	srv := &http.Server{
		Addr:              "127.0.0.1:8082",
		Handler:           http.HandlerFunc(function.Handle),
		ReadTimeout:       readTimeout,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("listen: %v", err)
		}
	}()

	// On SIGTERM the watchdog stops routing to us; wait one health interval so
	// in-flight requests finish, then shut down with a deadline.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	time.Sleep(healthInterval)
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Printf("shutdown: %v", err)
	}
}

func envDuration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second
	}
	return def
}
