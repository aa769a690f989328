package docker

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/authconfig"

	"github.com/slipway-ci/slipway/engine"
)

func TestEncodeAuth(t *testing.T) {
	a := &engine.RegistryAuth{Username: "my_username", Password: "my/pass+word?", Registry: "registry.example.com:5000", IdentityToken: "tok"}
	enc, err := encodeAuth(a)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(enc, "+/") {
		t.Errorf("encodeAuth = %q is not base64url", enc)
	}
	got, err := authconfig.Decode(enc) // the engine's own decoder
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != a.Username || got.Password != a.Password || got.ServerAddress != a.Registry || got.IdentityToken != a.IdentityToken {
		t.Errorf("decoded %+v, want the fields of %s", got, a)
	}
	raw, _ := base64.URLEncoding.DecodeString(enc)
	for _, key := range []string{`"username"`, `"password"`, `"serveraddress"`, `"identitytoken"`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("header JSON %s lacks %s", raw, key)
		}
	}
	if enc, _ := encodeAuth(nil); enc != "" {
		t.Error("no credentials should encode as the empty header")
	}
}
