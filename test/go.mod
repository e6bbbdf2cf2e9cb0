module github.com/rdc-interop/faas/test

go 1.26.8

require (
	go.yaml.in/yaml/v3 v3.0.6
	github.com/rdc-interop/faas/functions/anonymised-export v0.0.0
	github.com/rdc-interop/faas/functions/did-check v0.0.0
	github.com/rdc-interop/faas/functions/did-holder-exclusion v0.0.0
	github.com/rdc-interop/faas/functions/patto-check v0.0.0
	github.com/rdc-interop/faas/functions/transfer-to-cpi v0.0.0
	github.com/rdc-interop/faas/functions/transfer-to-social-services v0.0.0
	github.com/rdc-interop/faas/functions/oauth-token v0.0.0
	github.com/rdc-interop/faas/infra v0.0.0
	github.com/rdc-interop/faas/shared v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/oauth2 v0.37.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

replace (
	github.com/rdc-interop/faas/functions/anonymised-export => ../functions/anonymised-export
	github.com/rdc-interop/faas/functions/did-check => ../functions/did-check
	github.com/rdc-interop/faas/functions/did-holder-exclusion => ../functions/did-holder-exclusion
	github.com/rdc-interop/faas/functions/patto-check => ../functions/patto-check
	github.com/rdc-interop/faas/functions/transfer-to-cpi => ../functions/transfer-to-cpi
	github.com/rdc-interop/faas/functions/transfer-to-social-services => ../functions/transfer-to-social-services
	github.com/rdc-interop/faas/functions/oauth-token => ../functions/oauth-token
	github.com/rdc-interop/faas/infra => ../infra
	github.com/rdc-interop/faas/shared => ../shared
)
