"""The local traffic router: the `local` stand-in for a Kubernetes Service / Ingress."""
