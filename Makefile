# smsgw build targets. `make run` and `make test` are all a new machine needs.
GO       ?= go
BIN      := bin/smsgw
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X smsgw/daemon/cli.Version=$(VERSION)
PKGS     := ./...

.PHONY: build run test lint bench cross fuzz clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Starts the daemon on its embedded default: the simulated phone, with the
# socket (smsgw.sock) and data (smsgw-data/) in the working directory.
run: build
	./$(BIN) run

test: lint
	$(GO) test -count=1 -timeout 10m $(PKGS)

lint:
	@unformatted=$$(gofmt -l .); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 20m $(PKGS)

# Static binaries for the boxes smsgw runs on.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/smsgw-linux-amd64 .
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/smsgw-linux-arm64 .
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/smsgw-linux-armv7 .

clean:
	rm -rf bin
