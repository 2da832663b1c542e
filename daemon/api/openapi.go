package api

import (
	_ "embed"
	"net/http"
)

// openAPISpec is the OpenAPI 3.1 description of the API, written by hand
// and kept true by TestOpenAPI, which validates real responses against it.
//
//go:embed openapi.json
var openAPISpec []byte

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openAPISpec }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	writeBody(w, http.StatusOK, openAPISpec)
}
