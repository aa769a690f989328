package kubernetes_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// nodeIP is the host side of the test cluster's pod bridge (slipway-k8s0,
// scripts/k8s-cluster.sh): the one host address its pods reach.
const nodeIP = "10.244.0.1"

// proxy stands in, on the test cluster, for what a real cluster has and
// this one does not: kube-proxy (Service IPs do not route, no DNS) and an
// API server the pods can reach (it listens on 127.0.0.1). It accepts on
// nodeIP, which the pods and this host both reach, and forwards each
// connection to the address target gives at that moment: a ready endpoint
// of a Service, so a replaced pod is followed as kube-proxy would.
type proxy struct {
	ln     net.Listener
	target func(context.Context) (string, error)
	log    func(format string, args ...any)

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startProxy listens on a free port of nodeIP until the test ends.
func startProxy(t *testing.T, name string, target func(context.Context) (string, error)) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(nodeIP, "0"))
	if err != nil {
		t.Fatalf("listen on the node address %s (is the test cluster's bridge up?): %v", nodeIP, err)
	}
	var mu sync.Mutex
	last := ""
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{},
		// Each failure once in a row: the pods start while clients retry.
		log: func(format string, args ...any) {
			msg := fmt.Sprintf(format, args...)
			mu.Lock()
			defer mu.Unlock()
			if msg != last {
				t.Logf("proxy %s: %s", name, msg)
				last = msg
			}
		}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// port is the port the proxy listens on.
func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c)
		}()
	}
}

// forward connects c to the current target, or closes it when there is
// none (as a Service without ready endpoints refuses).
func (p *proxy) forward(c net.Conn) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	addr, err := p.target(ctx)
	var up net.Conn
	if err == nil {
		up, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	cancel()
	if err != nil {
		p.log("%v", err)
		return
	}
	defer up.Close()
	if !p.track(c, up) {
		return
	}
	defer p.untrack(c, up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// track records a connection pair so close can cut it; false once closed.
func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// fixedTarget is always addr (the API server).
func fixedTarget(addr string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return addr, nil }
}

// serviceTarget is a ready endpoint of the Service name's port portName,
// from its EndpointSlices (which kube-controller-manager keeps, kube-proxy
// or not): what the Service's cluster IP would reach.
func serviceTarget(cs kubernetes.Interface, ns, name, portName string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		l, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
		if err != nil {
			return "", err
		}
		for _, s := range l.Items {
			port := slicePort(s, portName)
			if port == 0 {
				continue
			}
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready && len(e.Addresses) > 0 {
					return net.JoinHostPort(e.Addresses[0], strconv.Itoa(port)), nil
				}
			}
		}
		return "", fmt.Errorf("service %s/%s has no ready endpoint", ns, name)
	}
}

func slicePort(s discoveryv1.EndpointSlice, name string) int {
	for _, p := range s.Ports {
		if p.Name != nil && *p.Name == name && p.Port != nil {
			return int(*p.Port)
		}
	}
	return 0
}

// hostPort is the host:port of a URL (the kubeconfig's API server).
func hostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443"), nil
	}
	return u.Host, nil
}
