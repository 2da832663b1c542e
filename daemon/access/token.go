package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// tokenPrefix marks smsgw tokens, so a leaked one is recognisable.
const tokenPrefix = "smsgw_"

// NewToken returns a fresh bearer token and the SHA-256 hex digest the
// configuration stores. The token is shown once; only the digest is kept.
func NewToken() (token, sha256Hex string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("reading randomness: %w", err)
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken returns the SHA-256 hex digest of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Errors of ParseBearer.
var (
	ErrNoCredentials  = errors.New("no Authorization header")
	ErrBadCredentials = errors.New("malformed Authorization header")
)

// maxTokenLen bounds what is hashed from a header.
const maxTokenLen = 512

// ParseBearer extracts the token of an "Authorization: Bearer <token>"
// header value. The scheme is case-insensitive; the token must be visible
// ASCII without spaces.
func ParseBearer(header string) (string, error) {
	if header == "" {
		return "", ErrNoCredentials
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrBadCredentials
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || len(token) > maxTokenLen {
		return "", ErrBadCredentials
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return "", ErrBadCredentials
		}
	}
	return token, nil
}

// TokenClient is a client known by the digest of its token.
type TokenClient struct {
	Name      string
	SHA256Hex string
}

// MatchToken returns the name of the client whose digest matches token, or
// "" when none does. Every digest is compared in constant time.
func MatchToken(token string, clients []TokenClient) string {
	sum := sha256.Sum256([]byte(token))
	found := ""
	for _, c := range clients {
		want, err := hex.DecodeString(c.SHA256Hex)
		if err != nil || len(want) != len(sum) {
			continue
		}
		if subtle.ConstantTimeCompare(want, sum[:]) == 1 && found == "" {
			found = c.Name
		}
	}
	return found
}
