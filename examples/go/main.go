// A Go program that declares model-canary's ModelCanary component, with the Automation API: the
// program runs in this process (no Go language host), the component runs in the model-canary
// package's own Node.js plugin (its PulumiPlugin.yaml), reached by its type token. It renders the
// Kubernetes objects to a folder (no cluster) and prints the stack's outputs as JSON.
//
//	PULUMI_BACKEND_URL=file://$PWD/state PULUMI_CONFIG_PASSPHRASE= \
//	  go run . -package ../../plugin -work "$PWD/work" -render "$PWD/rendered"
//
// docs/other-languages.md shows the same model in TypeScript, YAML and Python.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// modelCanary holds the component's outputs this program reads (the names of its schema).
type modelCanary struct {
	pulumi.ResourceState

	ServiceName         pulumi.StringOutput    `pulumi:"serviceName"`
	VirtualServiceName  pulumi.StringOutput    `pulumi:"virtualServiceName"`
	DestinationRuleName pulumi.StringOutput    `pulumi:"destinationRuleName"`
	DeploymentNames     pulumi.StringMapOutput `pulumi:"deploymentNames"`
}

func program(renderDir string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		// The Kubernetes provider in render mode, declared by its type without the Kubernetes Go SDK.
		var k8s pulumi.ProviderResourceState
		if err := ctx.RegisterResource("pulumi:providers:kubernetes", "render",
			pulumi.Map{"renderYamlToDirectory": pulumi.String(renderDir)}, &k8s); err != nil {
			return err
		}
		// An Output-valued image, as a program would pass a build's result.
		canaryImage := pulumi.String("v2").ToStringOutput().ApplyT(func(tag string) string {
			return "registry.example.com/model:" + tag
		}).(pulumi.StringOutput)

		var model modelCanary
		err := ctx.RegisterRemoteComponentResource("model-canary:index:ModelCanary", "model", pulumi.Map{
			"serviceName":         pulumi.String("model-service"),
			"virtualServiceName":  pulumi.String("model-virtual-service"),
			"destinationRuleName": pulumi.String("model-destination"),
			"stable": pulumi.Map{
				"version": pulumi.String("v1"), "image": pulumi.String("registry.example.com/model:v1"), "replicas": pulumi.Int(2),
			},
			"canary":       pulumi.Map{"version": pulumi.String("v2"), "image": canaryImage, "replicas": pulumi.Int(1)},
			"canaryWeight": pulumi.Int(10),
		}, &model, pulumi.Providers(&k8s))
		if err != nil {
			return err
		}
		ctx.Export("serviceName", model.ServiceName)
		ctx.Export("virtualServiceName", model.VirtualServiceName)
		ctx.Export("destinationRuleName", model.DestinationRuleName)
		ctx.Export("deploymentNames", model.DeploymentNames)
		return nil
	}
}

func run(ctx context.Context, packageDir, workDir, renderDir string) (auto.OutputMap, error) {
	project := workspace.Project{
		Name:    "model-canary-go",
		Runtime: workspace.NewProjectRuntimeInfo("go", nil),
		// What `pulumi package add <packageDir>` records: the package's plugin runs from its folder.
		Packages: map[string]workspace.PackageSpec{"model-canary": {Source: packageDir}},
	}
	stack, err := auto.UpsertStackInlineSource(ctx, "dev", project.Name.String(), program(renderDir),
		auto.Project(project), auto.WorkDir(workDir))
	if err != nil {
		return nil, err
	}
	result, err := stack.Up(ctx)
	if err != nil {
		return nil, err
	}
	return result.Outputs, nil
}

func main() {
	packageDir := flag.String("package", "", "the model-canary package folder (the one with PulumiPlugin.yaml)")
	workDir := flag.String("work", "", "the project's folder (created if missing)")
	renderDir := flag.String("render", "", "where the Kubernetes objects are written")
	flag.Parse()
	if *packageDir == "" || *workDir == "" || *renderDir == "" {
		fmt.Fprintln(os.Stderr, "usage: model-canary-go -package DIR -work DIR -render DIR")
		os.Exit(2)
	}
	if err := os.MkdirAll(*workDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outputs, err := run(context.Background(), *packageDir, *workDir, *renderDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	values := map[string]interface{}{}
	for k, v := range outputs {
		values[k] = v.Value
	}
	out, _ := json.MarshalIndent(values, "", "  ")
	fmt.Println(string(out))
}
