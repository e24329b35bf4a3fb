//go:build tools

// Package tools pins the control-plane commands so `go build` can name them
// by import path from this module (k8s.io/kubernetes is not go-installable).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
