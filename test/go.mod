module github.com/rdc-interop/faas/test

go 1.26.8
