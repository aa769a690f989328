// Command kube is a multi-call binary with the Kubernetes components that
// scripts/k8s-cluster.sh runs: it dispatches on the name it was started as
// (filepath.Base(os.Args[0])), like busybox. The script symlinks
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
// kubectl to it. `kube NAME ARGS...` works too.
//
// `kube cri-clean unix:///path/to/containerd.sock` stops and removes every
// pod sandbox of a CRI runtime (as `crictl rmp -af`; Debian has no crictl),
// which tears down the pods' networks and mounts properly.
//
// Build with the version stamped in, or the components fail to parse their
// own version:
//
//	go build -ldflags "-X k8s.io/component-base/version.gitVersion=v1.35.4
//	  -X k8s.io/component-base/version.gitMajor=1
//	  -X k8s.io/component-base/version.gitMinor=35" -o kube .
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // CronJob time zones (apiserver, controller-manager)

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := commands[name]; !ok && name != "kubectl" && len(os.Args) > 1 {
		// kube NAME ARGS...
		name = os.Args[1]
		os.Args = os.Args[1:]
	}
	if name == "cri-clean" && len(os.Args) == 2 {
		if err := criClean(os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "cri-clean:", err)
			os.Exit(1)
		}
		return
	}
	if name == "kubectl" {
		// As cmd/kubectl: verbosity is set before the command is built.
		logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) //nolint:errcheck
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
		return
	}
	newCmd, ok := commands[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: kube {kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kubectl} ARGS...\n"+
			"       kube cri-clean unix:///path/to/cri.sock\n"+
			"  (or run it through a symlink named after the component)")
		os.Exit(2)
	}
	os.Exit(cli.Run(newCmd()))
}

// criClean stops and removes all pod sandboxes (with their containers) of
// the CRI runtime at endpoint.
func criClean(endpoint string) error {
	conn, err := grpc.NewClient("unix://"+strings.TrimPrefix(endpoint, "unix://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	var failed []string
	for _, sb := range list.Items {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			failed = append(failed, fmt.Sprintf("stop %s: %v", sb.Id, err))
			continue
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			failed = append(failed, fmt.Sprintf("remove %s: %v", sb.Id, err))
			continue
		}
		fmt.Printf("removed pod sandbox %.13s (%s/%s)\n", sb.Id, sb.GetMetadata().GetNamespace(), sb.GetMetadata().GetName())
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	return nil
}
