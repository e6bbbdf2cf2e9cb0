module github.com/rdc-interop/faas/infra

go 1.26.8
