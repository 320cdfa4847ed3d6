module mlbridge/peers/mlyserver

go 1.24

require github.com/viant/mly v1.0.1

require (
	github.com/aerospike/aerospike-client-go v4.5.2+incompatible // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/cyningsun/heavy-hitters v0.0.0-20230601160639-238b21a6ddce // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/francoispqt/gojay v1.2.13 // indirect
	github.com/go-errors/errors v1.4.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jessevdk/go-flags v1.5.0 // indirect
	github.com/matttproud/golang_protobuf_extensions v1.0.4 // indirect
	github.com/nxadm/tail v1.4.11 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/prometheus/client_golang v1.16.0 // indirect
	github.com/prometheus/client_model v0.3.0 // indirect
	github.com/prometheus/common v0.42.0 // indirect
	github.com/prometheus/procfs v0.10.1 // indirect
	github.com/stretchr/testify v1.8.1 // indirect
	github.com/viant/afs v1.16.1-0.20221201181023-455837320ec5 // indirect
	github.com/viant/bintly v0.2.0 // indirect
	github.com/viant/gmetric v0.3.1-0.20230405233616-cc90deee60c4 // indirect
	github.com/viant/gtly v0.1.1-0.20220929163617-a9b6dbce2bdc // indirect
	github.com/viant/scache v0.4.0 // indirect
	github.com/viant/tapper v0.6.6 // indirect
	github.com/viant/toolbox v0.34.5 // indirect
	github.com/viant/xunsafe v0.8.1-0.20220921220858-82f5aba1919f // indirect
	github.com/wamuir/graft v0.9.0 // indirect
	github.com/yuin/gopher-lua v0.0.0-20210529063254-f4c35e4016d9 // indirect
	golang.org/x/crypto v0.27.0 // indirect
	golang.org/x/net v0.29.0 // indirect
	golang.org/x/sync v0.8.0 // indirect
	golang.org/x/sys v0.25.0 // indirect
	golang.org/x/text v0.18.0 // indirect
	google.golang.org/protobuf v1.34.2 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
