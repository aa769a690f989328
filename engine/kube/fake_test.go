package kube

import (
	"context"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

// fakeCore adapts client-go's fake clientset to coreClient: its typed
// clients have the same methods as the engine's narrow interfaces.
type fakeCore struct{ cs *fake.Clientset }

var _ coreClient = fakeCore{}

func (f fakeCore) Pods(ns string) podClient       { return f.cs.CoreV1().Pods(ns) }
func (f fakeCore) Secrets(ns string) secretClient { return f.cs.CoreV1().Secrets(ns) }
func (f fakeCore) Events(ns string) eventClient   { return f.cs.CoreV1().Events(ns) }
func (f fakeCore) RESTClient() rest.Interface     { return f.cs.CoreV1().RESTClient() }

func (f fakeCore) ServerVersion(context.Context) (*version.Info, error) {
	return f.cs.Discovery().ServerVersion()
}
