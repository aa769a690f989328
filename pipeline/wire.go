package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
)

// Document is the wire form of parsed jobs: what a server sends to a
// runner, which reads it back exactly (Decode(Encode(d)) equals d).
//
// Secrets travel by name (EnvVar.FromSecret, Job.PullSecrets): the runner
// resolves them. The one kind of credential a file can hold inline (Drone
// 0.x auth_config) is marshalled as its name only, wherever it is used,
// and its values travel in Credentials, a field of its own, so that a log
// of the job's model never carries them.
type Document struct {
	Pipeline *Pipeline `json:"pipeline"`
	// Credentials are the inline registry credentials of Pipeline's
	// images, by Credentials.Name. Never log this field.
	Credentials map[string]CredentialValues `json:"credentials,omitempty"`
}

// CredentialValues are the secret parts of one Credentials.
type CredentialValues struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
}

// Format keeps %v of a Document's credentials from printing them.
func (CredentialValues) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "<credentials>") }

// NewDocument is the document of p, with its inline credentials lifted
// out.
func NewDocument(p *Pipeline) (*Document, error) {
	d := &Document{Pipeline: p}
	for _, img := range p.images() {
		if img.Auth == nil {
			continue
		}
		a := img.Auth
		v := CredentialValues{Username: a.Username, Password: a.Password, Email: a.Email}
		if old, ok := d.Credentials[a.Name]; ok && old != v {
			return nil, fmt.Errorf("two different credentials are named %q", a.Name)
		}
		if d.Credentials == nil {
			d.Credentials = map[string]CredentialValues{}
		}
		d.Credentials[a.Name] = v
	}
	return d, nil
}

// Encode is the JSON of the document.
func (d *Document) Encode() ([]byte, error) { return json.Marshal(d) }

// DecodeDocument reads a document back and puts the credentials into the
// images that name them. A name with no values is an error: the image
// would otherwise be pulled without the credentials the file gave.
func DecodeDocument(data []byte) (*Document, error) {
	var d Document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("job document: %w", err)
	}
	if d.Pipeline == nil {
		return nil, fmt.Errorf("job document: no pipeline")
	}
	for _, img := range d.Pipeline.images() {
		if img.Auth == nil {
			continue
		}
		v, ok := d.Credentials[img.Auth.Name]
		if !ok {
			return nil, fmt.Errorf("job document: image %s names credentials %q, which the document does not carry", img.Name, img.Auth.Name)
		}
		img.Auth.Username, img.Auth.Password, img.Auth.Email = v.Username, v.Password, v.Email
	}
	return &d, nil
}

// images are pointers to every image of every step and service.
func (p *Pipeline) images() []*Image {
	var out []*Image
	for _, j := range p.Jobs() {
		for _, st := range j.Steps {
			out = append(out, &st.Image)
		}
		for _, svc := range j.Services {
			out = append(out, &svc.Image)
		}
	}
	return out
}
