module mlbridge/interop

go 1.24

require github.com/viant/mly v1.0.1

require (
	github.com/aerospike/aerospike-client-go v4.5.2+incompatible // indirect
	github.com/cyningsun/heavy-hitters v0.0.0-20230601160639-238b21a6ddce // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/francoispqt/gojay v1.2.13 // indirect
	github.com/go-errors/errors v1.4.2 // indirect
	github.com/nxadm/tail v1.4.11 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/stretchr/testify v1.8.1 // indirect
	github.com/viant/bintly v0.2.0 // indirect
	github.com/viant/gmetric v0.3.1-0.20230405233616-cc90deee60c4 // indirect
	github.com/viant/scache v0.4.0 // indirect
	github.com/viant/tapper v0.6.6 // indirect
	github.com/viant/toolbox v0.34.5 // indirect
	github.com/viant/xunsafe v0.8.1-0.20220921220858-82f5aba1919f // indirect
	github.com/yuin/gopher-lua v0.0.0-20210529063254-f4c35e4016d9 // indirect
	golang.org/x/net v0.29.0 // indirect
	golang.org/x/sync v0.8.0 // indirect
	golang.org/x/text v0.18.0 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
