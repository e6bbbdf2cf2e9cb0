module github.com/rdc-interop/faas/test

go 1.26.8

require (
	github.com/emersion/go-smtp v0.26.0
	github.com/go-jose/go-jose/v4 v4.1.8
	github.com/google/uuid v1.6.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/lestrrat-go/jwx/v3 v3.4.0
	github.com/parquet-go/parquet-go v0.32.0
	github.com/rdc-interop/faas/infra v0.0.0
	github.com/rdc-interop/faas/shared v0.0.0
	github.com/xuri/excelize/v2 v2.11.1
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/oauth2 v0.37.0
)

require (
	dario.cat/mergo v1.0.1 // indirect
	github.com/Masterminds/goutils v1.1.1 // indirect
	github.com/Masterminds/semver/v3 v3.5.0 // indirect
	github.com/Masterminds/sprig/v3 v3.3.0 // indirect
	github.com/andybalholm/brotli v1.1.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.0.1 // indirect
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	github.com/goccy/go-json v0.11.2 // indirect
	github.com/huandu/xstrings v1.5.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/jackc/tern/v2 v2.3.4 // indirect
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/klauspost/cpuid/v2 v2.4.0 // indirect
	github.com/klauspost/crc32 v1.3.0 // indirect
	github.com/lestrrat-go/blackmagic v1.0.4 // indirect
	github.com/lestrrat-go/option/v2 v2.0.0 // indirect
	github.com/minio/crc64nvme v1.1.1 // indirect
	github.com/minio/md5-simd v1.1.2 // indirect
	github.com/minio/minio-go/v7 v7.4.1 // indirect
	github.com/mitchellh/copystructure v1.2.0 // indirect
	github.com/mitchellh/reflectwalk v1.0.2 // indirect
	github.com/parquet-go/bitpack v1.0.0 // indirect
	github.com/parquet-go/jsonlite v1.0.0 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/pierrec/lz4/v4 v4.1.21 // indirect
	github.com/rdc-interop/faas/functions/anonymised-export v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/apl-citizens v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/apl-daily-report v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/apl-interests v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/apl-offers v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/did-check v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/did-holder-exclusion v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/feed-anpal v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/feed-siisl v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/feed-gepi v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/feed-inps v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/oauth-token v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/patto-check v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/transfer-to-cpi v0.0.0 // indirect
	github.com/rdc-interop/faas/functions/transfer-to-social-services v0.0.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/richardlehane/mscfb v1.0.9 // indirect
	github.com/richardlehane/msoleps v1.0.6 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	github.com/rs/xid v1.6.0 // indirect
	github.com/segmentio/asm v1.2.1 // indirect
	github.com/shopspring/decimal v1.4.0 // indirect
	github.com/spf13/cast v1.7.0 // indirect
	github.com/tiendc/go-deepcopy v1.7.2 // indirect
	github.com/tinylib/msgp v1.6.4 // indirect
	github.com/twpayne/go-geom v1.6.1 // indirect
	github.com/xuri/efp v0.0.3-0.20260924042702-217b81952dec // indirect
	github.com/xuri/nfp v0.0.2-0.20250530014748-2ddeb826f9a9 // indirect
	github.com/zeebo/xxh3 v1.1.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/ini.v1 v1.67.3 // indirect
)

replace (
	github.com/rdc-interop/faas/functions/anonymised-export => ../functions/anonymised-export
	github.com/rdc-interop/faas/functions/apl-citizens => ../functions/apl-citizens
	github.com/rdc-interop/faas/functions/apl-daily-report => ../functions/apl-daily-report
	github.com/rdc-interop/faas/functions/apl-interests => ../functions/apl-interests
	github.com/rdc-interop/faas/functions/apl-offers => ../functions/apl-offers
	github.com/rdc-interop/faas/functions/did-check => ../functions/did-check
	github.com/rdc-interop/faas/functions/did-holder-exclusion => ../functions/did-holder-exclusion
	github.com/rdc-interop/faas/functions/feed-anpal => ../functions/feed-anpal
	github.com/rdc-interop/faas/functions/feed-siisl => ../functions/feed-siisl
	github.com/rdc-interop/faas/functions/feed-gepi => ../functions/feed-gepi
	github.com/rdc-interop/faas/functions/feed-inps => ../functions/feed-inps
	github.com/rdc-interop/faas/functions/oauth-token => ../functions/oauth-token
	github.com/rdc-interop/faas/functions/patto-check => ../functions/patto-check
	github.com/rdc-interop/faas/functions/transfer-to-cpi => ../functions/transfer-to-cpi
	github.com/rdc-interop/faas/functions/transfer-to-social-services => ../functions/transfer-to-social-services
	github.com/rdc-interop/faas/infra => ../infra
	github.com/rdc-interop/faas/shared => ../shared
)
