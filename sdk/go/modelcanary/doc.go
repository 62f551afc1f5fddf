// Gradual, previewable rollouts of ML models on Kubernetes with Istio (docs/other-languages.md)
package modelcanary
