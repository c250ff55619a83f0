"""Kubernetes: manifests for placed jobs, built with the official client's models."""
