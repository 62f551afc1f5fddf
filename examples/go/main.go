// A Go program that declares model-canary's ModelCanary component, with the Automation API: the
// program runs in this process (no Go language host), the component runs in the model-canary
// package's own Node.js plugin (its PulumiPlugin.yaml), declared through the package's generated
// Go SDK (sdk/go, `npm run sdk:gen -- --language go`). It renders the Kubernetes objects to a
// folder (no cluster) and prints the stack's outputs as JSON.
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

	"github.com/model-canary/model-canary/sdk/go/modelcanary"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

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

		model, err := modelcanary.NewModelCanary(ctx, "model", &modelcanary.ModelCanaryArgs{
			ServiceName:         pulumi.StringRef("model-service"),
			VirtualServiceName:  pulumi.StringRef("model-virtual-service"),
			DestinationRuleName: pulumi.StringRef("model-destination"),
			Stable: modelcanary.ModelVersionArgs{
				Version: "v1", Image: pulumi.String("registry.example.com/model:v1"), Replicas: pulumi.Float64Ref(2),
			},
			Canary:       &modelcanary.ModelVersionArgs{Version: "v2", Image: canaryImage, Replicas: pulumi.Float64Ref(1)},
			CanaryWeight: pulumi.Float64Ref(10),
		}, pulumi.Providers(&k8s))
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
