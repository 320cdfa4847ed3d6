module mlbridge/go_host

go 1.24
