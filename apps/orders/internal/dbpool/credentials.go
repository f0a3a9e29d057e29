// Package dbpool opens the PostgreSQL pool, logging in with the credentials file that Vault's agent
// writes and rewrites when it rotates the password.
package dbpool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Credentials is the JSON document {"username": ..., "password": ...}.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ReadCredentials reads the file as it is now; errors say which file and what is wrong with it.
func ReadCredentials(path string) (Credentials, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, fmt.Errorf("credentials file %s does not exist", path)
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials file %s cannot be read: %w", path, err)
	}
	var c Credentials
	if err := json.Unmarshal(raw, &c); err != nil {
		return Credentials{}, fmt.Errorf("credentials file %s is not JSON: %w", path, err)
	}
	if c.Username == "" {
		return Credentials{}, fmt.Errorf(`credentials file %s needs string fields "username" and "password"`, path)
	}
	return c, nil
}
